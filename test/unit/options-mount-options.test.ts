// `-o` lists as mount(8) passes them from /etc/fstab, and the options added for operating a mount.
import test from 'ava';
import { parseMountArguments, UsageError } from '../../src/cli/options.js';

test('an fstab-style -o line parses into the same options as flags', (t) => {
  const fromFlags = parseMountArguments(
    [
      'my-bucket:logs',
      '/mnt/s3',
      '--allow-other',
      '--endpoint-url',
      'http://127.0.0.1:9000',
      '--region',
      'eu-west-1',
      '--force-path-style',
      '--metadata-ttl',
      '5',
      '--read-only',
      '--allow-non-empty',
      '--uid',
      '1000',
    ],
    {},
  );
  // What mount.fuse3 hands s3mount for the fstab line
  //   my-bucket:logs /mnt/s3 fuse.s3mount _netdev,allow_other,endpoint-url=...,... 0 0
  // (it drops _netdev and nofail itself and adds dev,suid; both are accepted here anyway).
  const fromFstab = parseMountArguments(
    [
      'my-bucket:logs',
      '/mnt/s3',
      '-o',
      'rw,_netdev,nofail,allow_other,endpoint-url=http://127.0.0.1:9000,region=eu-west-1,force_path_style,metadata-ttl=5,ro,nonempty,uid=1000,x-systemd.automount,dev,suid',
    ],
    {},
  );
  t.deepEqual(fromFstab, fromFlags);
  t.true(fromFstab.allowOther);
  t.true(fromFstab.readOnly);
  t.is(fromFstab.metadataTtlSeconds, 5);
});

test('-o is accepted attached, repeated and anywhere among the arguments', (t) => {
  const config = parseMountArguments(
    ['-oallow_root', 'b-1', '-o', 'metadata_ttl=7', '/m', '-o', 'defaults,noauto,user,exec,nosuid,nodev,noatime,comment=x'],
    {},
  );
  t.true(config.allowRoot);
  t.is(config.metadataTtlSeconds, 7);
  t.is(config.mountpoint, '/m');
});

test('-o options win over the environment, as flags do', (t) => {
  t.is(parseMountArguments(['b-1', '/m', '-o', 'region=ap-south-1'], { AWS_REGION: 'eu-west-1' }).region, 'ap-south-1');
});

test('a wrong -o option is a usage error naming it', (t) => {
  const cases: Array<[string, RegExp]> = [
    ['use_path_request_style', /unknown mount option use_path_request_style/],
    ['read-only=yes', /read-only takes no value/],
    ['region', /region needs a value/],
    ['metadata-ttl=soon', /--metadata-ttl must be a whole number/],
  ];
  for (const [list, message] of cases) t.throws(() => parseMountArguments(['b-1', '/m', '-o', list], {}), { instanceOf: UsageError, message }, list);
  t.throws(() => parseMountArguments(['b-1', '/m', '-o'], {}), { instanceOf: UsageError, message: /-o needs a list/ });
});

test('the kernel cache TTL is 1 s, at most the metadata TTL, unless given', (t) => {
  t.is(parseMountArguments(['b-1', '/m'], {}).kernelCacheTtlSeconds, 1);
  t.is(parseMountArguments(['b-1', '/m', '--metadata-ttl', '30'], {}).kernelCacheTtlSeconds, 1);
  t.is(parseMountArguments(['b-1', '/m', '--metadata-ttl', '0'], {}).kernelCacheTtlSeconds, 0);
  t.is(parseMountArguments(['b-1', '/m', '--metadata-ttl', '30', '--kernel-cache-ttl', '30'], {}).kernelCacheTtlSeconds, 30);
  t.is(parseMountArguments(['b-1', '/m', '--metadata-ttl', '30', '--kernel-cache-ttl', '0'], {}).kernelCacheTtlSeconds, 0);
  t.is(parseMountArguments(['b-1', '/m'], { S3MOUNT_KERNEL_CACHE_TTL: '2' }).kernelCacheTtlSeconds, 2);
});

test('metrics stay on loopback unless remote access is asked for', (t) => {
  t.is(parseMountArguments(['b-1', '/m'], {}).metricsAddress, undefined);
  t.deepEqual(parseMountArguments(['b-1', '/m', '--metrics-address', '127.0.0.1:9100'], {}).metricsAddress, { host: '127.0.0.1', port: 9100 });
  t.deepEqual(parseMountArguments(['b-1', '/m', '--metrics-address', '[::1]:9100'], {}).metricsAddress, { host: '::1', port: 9100 });
  t.deepEqual(parseMountArguments(['b-1', '/m', '--metrics-address', '9100'], {}).metricsAddress, { host: '127.0.0.1', port: 9100 });
  t.deepEqual(parseMountArguments(['b-1', '/m', '--metrics-address', 'localhost:9100'], {}).metricsAddress, { host: 'localhost', port: 9100 });
  for (const remote of ['0.0.0.0:9100', '[::]:9100', '10.1.2.3:9100', 'metrics.example.com:9100']) {
    t.throws(() => parseMountArguments(['b-1', '/m', '--metrics-address', remote], {}), { instanceOf: UsageError, message: /--metrics-allow-remote/ }, remote);
  }
  t.deepEqual(parseMountArguments(['b-1', '/m', '--metrics-address', '0.0.0.0:9100', '--metrics-allow-remote'], {}).metricsAddress, {
    host: '0.0.0.0',
    port: 9100,
  });
  for (const bad of ['127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', ':x', '[nonsense]:80']) {
    t.throws(() => parseMountArguments(['b-1', '/m', '--metrics-address', bad], {}), { instanceOf: UsageError, message: /--metrics-address/ }, bad);
  }
});

test('logs are pretty on a terminal and JSON elsewhere unless a format is given', (t) => {
  t.is(parseMountArguments(['b-1', '/m'], {}, { stderrIsTerminal: true }).logFormat, 'pretty');
  t.is(parseMountArguments(['b-1', '/m'], {}, { stderrIsTerminal: false }).logFormat, 'json');
  t.is(parseMountArguments(['b-1', '/m', '--log-file', '/tmp/x.log'], {}, { stderrIsTerminal: true }).logFormat, 'json');
  t.is(parseMountArguments(['b-1', '/m', '--log-format', 'json'], {}, { stderrIsTerminal: true }).logFormat, 'json');
});
