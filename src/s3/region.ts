// The region an AWS client uses when none is given: the SDK's own chain (environment, then the
// profile's `region`), else us-east-1 instead of the SDK's "Region is missing". S3 and SQS alike.

export const DEFAULT_REGION = 'us-east-1';

/** A client made only to read the SDK's region chain, then destroyed. */
export interface RegionProbe {
  config: { region(): Promise<string> };
  destroy(): void;
}

/** A region provider over the SDK's chain, resolved once. */
export function regionChain(probeClient: () => RegionProbe): () => Promise<string> {
  let resolved: Promise<string> | undefined;
  return () =>
    (resolved ??= (async () => {
      const probe = probeClient();
      try {
        return (await probe.config.region()) || DEFAULT_REGION;
      } catch {
        return DEFAULT_REGION;
      } finally {
        probe.destroy();
      }
    })());
}
