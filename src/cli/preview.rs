//! `cxrshard preview`: images with their rib masks as coloured, labelled overlays.

use cxrshard::dataset::{for_each_row, preview, Dataset};
use cxrshard::Error;
use image::RgbImage;
use std::path::PathBuf;
use std::process::ExitCode;

/// Largest tile side in a contact sheet (single images keep their size).
const SHEET_TILE_PX: u32 = 384;

/// Arguments of `preview`.
#[derive(clap::Args)]
pub struct Args {
    /// Output folder of a finished run (holds manifest.json).
    output: String,
    /// Split to take rows from (default: the first split).
    #[arg(long)]
    split: Option<String>,
    /// One image by its image_id (file stem), at full output size.
    #[arg(long, conflicts_with = "n")]
    id: Option<String>,
    /// The first N rows of the split, as a contact sheet.
    #[arg(long, default_value_t = 16)]
    n: usize,
    /// PNG file to write.
    #[arg(long)]
    out: PathBuf,
}

/// Run `preview`.
pub fn run(a: Args) -> cxrshard::Result<ExitCode> {
    let (img, what) = super::runtime(super::MIN_BLOCKING_THREADS)?.block_on(render(&a))?;
    img.save(&a.out).map_err(|e| Error::Output(format!("{}: cannot write PNG: {e}", a.out.display())))?;
    println!("wrote {} ({}x{} px): {what}", a.out.display(), img.width(), img.height());
    Ok(ExitCode::SUCCESS)
}

async fn render(a: &Args) -> cxrshard::Result<(RgbImage, String)> {
    let ds = Dataset::open(&a.output).await?;
    let m = &ds.manifest;
    let split = match &a.split {
        None => m.splits.first(),
        Some(s) => m.splits.iter().find(|x| &x.name == s),
    };
    let names: Vec<&str> = m.splits.iter().map(|s| s.name.as_str()).collect();
    let split = split.ok_or_else(|| Error::Output(format!("no split {:?}; the dataset has {names:?}", a.split)))?;
    let shape = [m.image.shape[0], m.image.shape[1]];
    let want = if a.id.is_some() { 1 } else { a.n.max(1) };
    let side = if a.id.is_some() { None } else { Some(SHEET_TILE_PX) };
    let mut tiles = Vec::new();
    for shard in &split.shards {
        let (_, batches) = ds.read_shard(&shard.path).await?;
        for b in &batches {
            for_each_row(b, |row| {
                if tiles.len() < want && a.id.as_deref().is_none_or(|id| id == row.image_id) {
                    tiles.push(preview::tile(&row, &m.image.dtype, shape, &m.labels, side));
                }
            })?;
        }
        if tiles.len() >= want {
            break;
        }
    }
    match (&a.id, tiles.len()) {
        (Some(id), 0) => Err(Error::Output(format!("no row with image_id {id:?} in split {}", split.name))),
        (_, 0) => Err(Error::Output(format!("split {} has no rows", split.name))),
        (Some(id), _) => Ok((tiles.remove(0), format!("{id} from {}", split.name))),
        (None, n) => Ok((preview::sheet(&tiles), format!("{n} rows of {} as a contact sheet", split.name))),
    }
}
