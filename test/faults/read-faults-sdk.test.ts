// The read fault tests again, with the mount's GETs, LISTs and HEADs going through the AWS SDK
// as they do on AWS, instead of the lean client used for custom endpoints: both paths share
// one retry policy and must behave alike. S3MOUNT_TEST_SDK_PATH=1 (read by createSdkStore,
// for tests only) reaches the mount process through its environment.
process.env.S3MOUNT_TEST_SDK_PATH = '1';
await import('./read-faults.test.js');
