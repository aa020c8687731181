// Where the SQS client of --s3-events-queue sends its requests, and in which region. Pure.
//
// A queue URL names its own host, but an emulator's (fauxqs: http://sqs.us-east-1.localhost:PORT/…)
// often does not resolve, while the emulator serves SQS on the S3 endpoint's port. So:
//   1. AWS_ENDPOINT_URL_SQS, when set (the SDK's own variable for SQS);
//   2. a queue on AWS (sqs.REGION.amazonaws.com…): the queue URL's own host, in its region,
//      even when S3 is elsewhere: the URL says where the queue is;
//   3. a custom S3 endpoint (--endpoint-url, its variables, the profile's endpoint_url): the
//      same endpoint (fauxqs and LocalStack serve S3 and SQS on one port);
//   4. else the queue URL's own host.

export interface QueueEndpoint {
  endpoint: string;
  /** The region the queue URL names (AWS hosts only); otherwise the mount's region applies. */
  region?: string;
}

const AWS_HOSTS = [
  // sqs.eu-west-1.amazonaws.com, sqs-fips.us-east-1.amazonaws.com, sqs.cn-north-1.amazonaws.com.cn, sqs.us-east-1.api.aws
  /^sqs(?:-fips)?\.([a-z0-9-]+)\.(?:amazonaws\.com(?:\.cn)?|api\.aws)$/,
  // The legacy form: eu-west-1.queue.amazonaws.com
  /^([a-z0-9-]+)\.queue\.amazonaws\.com(?:\.cn)?$/,
];

/** The AWS region of a queue URL on AWS; undefined for any other host. */
export function awsQueueRegion(url: URL): string | undefined {
  if (url.hostname === 'queue.amazonaws.com') return 'us-east-1';
  for (const pattern of AWS_HOSTS) {
    const match = pattern.exec(url.hostname);
    if (match) return match[1];
  }
  return undefined;
}

/**
 * Checks a queue URL as typed: http(s), with a path naming the queue (…/ACCOUNT/NAME on AWS).
 * Returns the reason it is refused, or undefined.
 */
export function queueUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'not a URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'not an http:// or https:// URL';
  if (url.pathname.replace(/\/+$/, '') === '') return 'no queue named in its path (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)';
  if (url.username || url.password) return 'credentials do not belong in a queue URL';
  return undefined;
}

export function queueEndpoint(queueUrl: string, s3Endpoint: string | undefined, env: NodeJS.ProcessEnv): QueueEndpoint {
  const url = new URL(queueUrl);
  const region = awsQueueRegion(url);
  const configured = env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() === 'true' ? undefined : env.AWS_ENDPOINT_URL_SQS;
  const endpoint = configured || (region !== undefined || s3Endpoint === undefined ? url.origin : s3Endpoint);
  return region === undefined ? { endpoint } : { endpoint, region };
}
