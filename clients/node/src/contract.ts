// The contract this client speaks: the code buf generates at the repository's
// root (gen/, from proto/). It is imported by relative path, here and nowhere
// else in the package, rather than copied or regenerated: gen/ is committed and
// checked for freshness in CI, so the client can never speak a stale contract,
// and this private workspace package is only ever run from this repository
// (through tsx, like the service). Publishing it would mean generating into the
// package instead; only this line would change.
export * from "../../../gen/file/v1/file_service_pb.js";
