/**
 * V8 settings the process gives itself. NODE_OPTIONS accepts only a few V8 flags, and a setting
 * that the process needs belongs with it rather than in every manifest that starts it.
 *
 * Set first by every command, before any chunk of the bundle is loaded: V8 refuses code from Node's
 * compile cache made under other flags, so every module loaded afterwards must meet the same ones,
 * at a start as when the image made its cache (Dockerfile).
 */
import v8 from 'node:v8';

/**
 * Turns off allocation-site pretenuring and parallel scavenges.
 *
 * Pretenuring: after a burst of concurrent requests (the benchmark's
 * 1000 simultaneous reads of one id), V8 judged the request path's objects long-lived and began
 * allocating them in the old generation; every later cached read then left its garbage there.
 * Measured over the same load of cached reads afterwards: major collections went from 5 to 75,
 * collection time from about 4 to 20 µs per read, and CPU per read from about 27 to 43 µs. A
 * broker's objects either live for one request or from start-up on, so pretenuring has nothing to
 * win here. Set before the broker is built, so that no allocation site was judged before it.
 *
 * Parallel scavenges: each young-generation collection wakes helper threads to share the copying,
 * which pays on idle cores, not on a sidecar's: under a 32-connection load of cached reads on two
 * cores (the load generator on the other), a scavenge took 0.25-0.28 ms (median; up to 1.7 ms) with
 * helpers and 0.14 ms (up to 0.6 ms) without, for the same 350 scavenges per 150,000 reads. Under a
 * container's CPU quota, helper threads only spend the same quota at once.
 */
export function tuneHeap(): void {
  v8.setFlagsFromString('--no-allocation-site-pretenuring');
  v8.setFlagsFromString('--no-parallel-scavenge');
}
