//! Datasources: where a node gets its user-data and metadata at boot (files, URLs, config
//! drive, cloud metadata services, the kernel command line), each behind one trait.
