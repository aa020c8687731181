// The S3 endpoint an AWS profile names in ~/.aws/config (or AWS_CONFIG_FILE, and the
// credentials file): the `s3` endpoint_url of its services section, else its endpoint_url.
// The SDK would find it by itself, but without telling us that the endpoint is custom (so it
// would keep AWS's checksums and virtual-hosted addressing) and only for AWS_PROFILE or the
// default profile, not for --profile. Passed to the store explicitly, it counts as a custom
// endpoint, as --endpoint-url does.
import { CONFIG_PREFIX_SEPARATOR, getProfileName, loadSharedConfigFiles } from '@smithy/core/config';

/**
 * The endpoint URL the profile (`profile`, else AWS_PROFILE, else "default") gives S3, or
 * undefined: none, or configured endpoints are ignored (AWS_IGNORE_CONFIGURED_ENDPOINT_URLS or
 * the profile's ignore_configured_endpoint_urls), or the files cannot be read.
 */
export async function profileEndpoint(profile?: string): Promise<string | undefined> {
  if (process.env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() === 'true') return undefined;
  let files: Awaited<ReturnType<typeof loadSharedConfigFiles>>;
  try {
    files = await loadSharedConfigFiles({ ignoreCache: true });
  } catch {
    return undefined;
  }
  const name = getProfileName({ profile });
  // As the SDK merges them: the config file wins over the credentials file.
  const settings = { ...files.credentialsFile[name], ...files.configFile[name] };
  if (settings.ignore_configured_endpoint_urls?.toLowerCase() === 'true') return undefined;
  if (settings.services) {
    const services = files.configFile[['services', settings.services].join(CONFIG_PREFIX_SEPARATOR)];
    const url = services?.[['s3', 'endpoint_url'].join(CONFIG_PREFIX_SEPARATOR)];
    if (url) return url;
  }
  return settings.endpoint_url || undefined;
}
