// Issue 14: an endpoint_url in the AWS profile must count as a custom endpoint, as --endpoint-url does.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { profileEndpoint } from '../../src/s3/profile-endpoint.js';

const CONFIG = `
[default]
endpoint_url = http://default.example:9000

[profile minio]
region = eu-west-1
endpoint_url = http://minio.example:9000

[profile with-services]
services = local
endpoint_url = http://fallback.example:9000

[services local]
s3 =
  endpoint_url = http://services.example:9000
sqs =
  endpoint_url = http://sqs.example:9000

[profile services-for-others]
services = others

[services others]
sqs =
  endpoint_url = http://sqs.example:9000

[profile plain]
region = eu-west-1

[profile ignoring]
endpoint_url = http://ignored.example:9000
ignore_configured_endpoint_urls = true
`;

const CREDENTIALS = `
[from-credentials]
aws_access_key_id = x
aws_secret_access_key = y
endpoint_url = http://credentials.example:9000
`;

// One test: the files are found through process.env, which every test of this file shares.
test('the endpoint of a named or default profile, its services section first, unless ignored', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 's3mount-profile-'));
  const saved = { ...process.env };
  t.teardown(async () => {
    for (const name of ['AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_PROFILE', 'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS']) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
    await rm(dir, { recursive: true, force: true });
  });
  await writeFile(join(dir, 'config'), CONFIG);
  await writeFile(join(dir, 'credentials'), CREDENTIALS);
  process.env.AWS_CONFIG_FILE = join(dir, 'config');
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'credentials');
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS;

  t.is(await profileEndpoint(), 'http://default.example:9000');
  t.is(await profileEndpoint('minio'), 'http://minio.example:9000');
  t.is(await profileEndpoint('with-services'), 'http://services.example:9000');
  t.is(await profileEndpoint('services-for-others'), undefined);
  t.is(await profileEndpoint('plain'), undefined);
  t.is(await profileEndpoint('no-such-profile'), undefined);
  t.is(await profileEndpoint('ignoring'), undefined);
  t.is(await profileEndpoint('from-credentials'), 'http://credentials.example:9000');
  process.env.AWS_PROFILE = 'minio';
  t.is(await profileEndpoint(), 'http://minio.example:9000', 'AWS_PROFILE names the profile');
  t.is(await profileEndpoint('plain'), undefined, '--profile wins over AWS_PROFILE');
  process.env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS = 'true';
  t.is(await profileEndpoint('minio'), undefined);
  process.env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS = 'false';
  process.env.AWS_CONFIG_FILE = join(dir, 'missing');
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'missing');
  t.is(await profileEndpoint('minio'), undefined, 'no config file');
});
