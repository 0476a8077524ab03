//! `kindling update-server`: an Omaha server for channels kept in a directory (releases,
//! signatures, rollout controls, the instances it has seen), serving payloads with Range.
