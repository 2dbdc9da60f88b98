//! The crate's one public error type.
//!
//! Errors are split by whose fault they are, because callers react differently:
//! - bad *configuration* (pipeline file, flags): fail fast, name the key;
//! - bad *data* (one image or annotation): becomes a [`crate::sink::manifest::RejectRecord`] for that input and the run
//!   continues; see [`InputError`];
//! - a failing *service* (storage): retried by the storage layer, then reported with the URL;
//! - an *internal* bug: reported as such, never blamed on the user's data.

use std::path::PathBuf;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can stop a cxrshard command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The pipeline file or a command-line override is invalid. Every problem found is listed.
    #[error("invalid pipeline configuration ({origin}):\n{}", .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Config {
        /// Where the configuration came from (file path, `--set`, ...).
        origin: String,
        /// One line per problem, each naming the key and what was expected.
        problems: Vec<String>,
    },
    /// An annotation file cannot be used at all (malformed JSON, wrong shape).
    #[error("annotation file {path}: {message}")]
    Annotations {
        /// Location of the annotation file.
        path: String,
        /// What is wrong and where.
        message: String,
    },
    /// Reading or writing storage failed (after retries, where they apply). The message is
    /// passed through [`crate::storage::redact`], so it never shows credentials.
    #[error("storage error at {location}: {}{}", crate::storage::redact(&.source.to_string()), hint_suffix(.hint))]
    Storage {
        /// The URL or path involved.
        location: String,
        /// The underlying error.
        #[source]
        source: object_store::Error,
        /// What to check (credentials, bucket, endpoint), or empty.
        hint: Box<str>,
    },
    /// Local file-system error outside the storage layer (e.g. `synth`, `decode`).
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// One input could not be turned into a row (only surfaces when a command handles a
    /// single input, like `decode`; the pipeline turns these into rejects).
    #[error(transparent)]
    Input(#[from] InputError),
    /// Encoding Arrow/Parquet output failed.
    #[error("writing {location}: {message}")]
    Encode {
        /// The shard being written.
        location: String,
        /// What the encoder said.
        message: String,
    },
    /// The output already holds a complete dataset, or is otherwise not writable as asked.
    #[error("{0}")]
    Output(String),
    /// More inputs were rejected than `run.max_rejects` allows; no manifest is written.
    #[error(
        "{rejected} inputs rejected, more than the limit of {limit} (run.max_rejects / --max-rejects) for {inputs} inputs; the reasons are in the log; no manifest was written"
    )]
    TooManyRejects {
        /// Rejected so far.
        rejected: usize,
        /// The limit.
        limit: usize,
        /// Inputs listed over all splits.
        inputs: usize,
    },
    /// A bug in cxrshard (a worker panicked, a channel closed early). Please report it.
    #[error("internal error: {0}")]
    Internal(String),
}

fn hint_suffix(hint: &str) -> String {
    if hint.is_empty() {
        String::new()
    } else {
        format!("\n  what to check: {hint}")
    }
}

/// The pipeline stage at which an input was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The annotation entry itself (e.g. polygon with NaN coordinates).
    Annotation,
    /// Fetching the image bytes from storage.
    Read,
    /// Parsing / decoding the image file.
    Decode,
    /// Modality LUT, VOI window, inversion, normalisation.
    Window,
    /// Resizing.
    Resize,
    /// Polygon rasterisation.
    Rasterize,
    /// A bug while processing this input (a worker panicked).
    Internal,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Stage::Annotation => "annotation",
            Stage::Read => "read",
            Stage::Decode => "decode",
            Stage::Window => "window",
            Stage::Resize => "resize",
            Stage::Rasterize => "rasterize",
            Stage::Internal => "internal",
        };
        f.write_str(s)
    }
}

/// Why one input could not become a row. The pipeline records it as a reject and goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{stage}: {reason}")]
pub struct InputError {
    /// Stage that failed.
    pub stage: Stage,
    /// Human-readable reason: what was found, what was expected.
    pub reason: String,
}

impl InputError {
    /// Shorthand constructor.
    pub fn new(stage: Stage, reason: impl Into<String>) -> Self {
        Self { stage, reason: reason.into() }
    }
}
