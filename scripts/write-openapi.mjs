// Writes the OpenAPI document of the API listeners beside the compiled agent (run by `npm run build`
// after tsc). The broker serves that file, so @fastify/swagger is a build-time dependency only.
import { writeFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import { buildApiDocument } from '../dist/agent/http/api-document.js';
import { OPENAPI_FILE } from '../dist/agent/http/app.js';
import { VERSION } from '../dist/agent/version.js';

const document = await buildApiDocument(swagger, VERSION);
writeFileSync(OPENAPI_FILE, `${JSON.stringify(document)}\n`);
