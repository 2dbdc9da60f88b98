//! # cxrshard
//!
//! Streaming preprocessing of chest X-ray datasets into training shards. The first target is
//! VinDr-RibCXR: DICOM or PNG chest X-rays plus per-split JSON files of rib polygons become
//! sharded Parquet (or Arrow IPC) files of `image` and `mask` tensors with a manifest.
//!
//! Layout follows the data flow:
//! - [`config`]: pipeline file → validated [`config::Plan`];
//! - [`storage`]: one `object_store` path for local disk and S3-compatible buckets;
//! - [`source`]: annotation parsing, image path resolution, decoders;
//! - [`transform`]: the pure per-image core (display chain, resize, masks);
//! - [`sink`]: Arrow batches, shard files, manifest;
//! - [`pipeline`]: the async shell wiring them with bounded concurrency;
//! - [`dataset`]: reading a written dataset back (`inspect`, `preview`);
//! - [`synth`]: a deterministic synthetic dataset in the VinDr-RibCXR layout;
//! - [`memory`]: giving freed memory back after phases that grow with the dataset.

pub mod config;
pub mod dataset;
pub mod error;
pub mod memory;
pub mod pipeline;
pub mod sink;
pub mod source;
pub mod storage;
pub mod synth;
pub mod transform;

pub use error::{Error, InputError, Result, Stage};
