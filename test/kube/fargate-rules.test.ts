import t from 'tap';
import { fargateViolations } from './fargate-rules.js';
import type { Manifest } from './kube-tools.js';

const sized = { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '100m', memory: '64Mi' } };

function pod(spec: Record<string, unknown>): Manifest {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec };
}

t.test('passes a pod that Fargate schedules', async (t) => {
  // Prepare
  const manifests: Manifest[] = [
    pod({
      initContainers: [{ name: 'side', image: 'x', restartPolicy: 'Always', resources: sized }],
      containers: [
        { name: 'app', image: 'x', resources: sized, securityContext: { capabilities: { add: ['SYS_PTRACE'] } } },
      ],
      volumes: [
        { name: 'a', emptyDir: {} },
        { name: 'locks', persistentVolumeClaim: { claimName: 'locks' } },
      ],
    }),
    {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: 'efs' },
      spec: { csi: { driver: 'efs.csi.aws.com' } },
    },
    { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'locks' }, spec: { volumeName: 'efs' } },
  ];

  // Act and Assess
  t.same(fargateViolations(manifests), []);
});

t.test('names each thing Fargate refuses', async (t) => {
  // Prepare
  const manifests: Manifest[] = [
    { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent' } },
    {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: 'ebs' },
      spec: { csi: { driver: 'ebs.csi.aws.com' } },
    },
    pod({
      hostNetwork: true,
      hostPID: true,
      initContainers: [{ name: 'init', image: 'x', resources: { requests: { cpu: '1', memory: '1Gi' } } }],
      containers: [
        {
          name: 'app',
          image: 'x',
          ports: [{ containerPort: 80, hostPort: 80 }],
          securityContext: { privileged: true, capabilities: { add: ['NET_ADMIN'] } },
          resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '200m', memory: '64Mi' } },
        },
      ],
      volumes: [
        { name: 'host', hostPath: { path: '/var/run' } },
        { name: 'inline', csi: { driver: 'efs.csi.aws.com' } },
        { name: 'claim', persistentVolumeClaim: { claimName: 'elsewhere' } },
      ],
    }),
  ];

  // Act
  const problems = fargateViolations(manifests).join('\n');

  // Assess
  for (const expected of [
    /DaemonSet\/agent: Fargate runs no DaemonSets/,
    /PersistentVolume\/ebs: the only volume source Fargate mounts is EFS/,
    /hostNetwork is not supported/,
    /hostPID is not supported/,
    /volume host is hostPath/,
    /volume inline is csi/,
    /claim elsewhere is not bound to an EFS PersistentVolume/,
    /Pod\/p init: cpu needs both a request and a limit/,
    /Pod\/p app: privileged/,
    /adds capability NET_ADMIN/,
    /hostPort 80/,
    /cpu request 100m differs from its limit 200m/,
  ]) {
    t.match(problems, expected);
  }
});
