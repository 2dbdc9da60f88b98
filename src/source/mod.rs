//! Inputs: annotation files, image path resolution and image decoders.

pub mod annotations;
pub mod check;
mod codestream;
mod colour;
pub mod decode;
mod deflated;
pub mod header;
pub mod image;
mod jpeg;
mod jpeg2000;
mod lengths;
mod png;
mod rle;

use crate::config::{InputFormat, InputPlan, SplitPlan};
use crate::error::{InputError, Stage};

/// Which decoder an input goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoder {
    /// `dicom-object` + `dicom-pixeldata`.
    Dicom,
    /// The `image` crate.
    Raster,
}

/// Resolve an annotation `img` path to the object to read (relative to the input root),
/// applying `input.image_dir` and `input.image_extension`.
pub fn image_path(img: &str, input: &InputPlan, split: &SplitPlan) -> Result<String, InputError> {
    let img = img.replace('\\', "/");
    let mut rel = match &input.image_dir {
        Some(dir) => {
            let name = img.rsplit('/').next().unwrap_or(&img);
            let dir = dir.replace("{split}", &split.images_split);
            if dir.is_empty() {
                name.to_string()
            } else {
                format!("{dir}/{name}")
            }
        }
        None => img.trim_start_matches("./").to_string(),
    };
    if let Some(ext) = &input.image_extension {
        let name_start = rel.rfind('/').map_or(0, |i| i + 1);
        match rel[name_start..].rfind('.') {
            Some(dot) if dot > 0 => rel.truncate(name_start + dot),
            _ => {}
        }
        rel = format!("{rel}.{ext}");
    }
    if rel.is_empty() || rel.starts_with('/') || rel.split('/').any(|s| s == "..") {
        return Err(InputError::new(
            Stage::Read,
            format!("image path {img:?} resolves to {rel:?}, expected a relative path inside the input root"),
        ));
    }
    Ok(rel)
}

/// Pick the decoder for a resolved path.
pub fn decoder_for(path: &str, format: InputFormat) -> Decoder {
    match format {
        InputFormat::Dicom => Decoder::Dicom,
        InputFormat::Png => Decoder::Raster,
        InputFormat::Auto => {
            let name = path.rsplit('/').next().unwrap_or(path);
            match name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()) {
                None => Decoder::Dicom,
                Some(e) if e == "dcm" || e == "dicom" || e == "dic" => Decoder::Dicom,
                Some(_) => Decoder::Raster,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(dir: Option<&str>, ext: Option<&str>) -> InputPlan {
        InputPlan {
            root: "r".into(),
            s3: Default::default(),
            format: InputFormat::Auto,
            image_extension: ext.map(Into::into),
            image_dir: dir.map(Into::into),
        }
    }

    fn split() -> SplitPlan {
        SplitPlan { name: "validation".into(), annotations: "a.json".into(), images_split: "val".into() }
    }

    #[test]
    fn paths_map_png_names_to_dicom_folders() {
        let img = "data/val/img/VinDr_RibCXR_val_003.png";
        assert_eq!(image_path(img, &input(None, None), &split()).unwrap(), img);
        assert_eq!(
            image_path(img, &input(None, Some("dcm")), &split()).unwrap(),
            "data/val/img/VinDr_RibCXR_val_003.dcm"
        );
        assert_eq!(
            image_path(img, &input(Some("dicom/{split}"), Some("dcm")), &split()).unwrap(),
            "dicom/val/VinDr_RibCXR_val_003.dcm"
        );
        assert!(image_path("../etc/passwd", &input(None, None), &split()).is_err());
    }

    #[test]
    fn auto_decoder_by_extension() {
        assert_eq!(decoder_for("a/b.DCM", InputFormat::Auto), Decoder::Dicom);
        assert_eq!(decoder_for("a/b", InputFormat::Auto), Decoder::Dicom);
        assert_eq!(decoder_for("a.b/c.png", InputFormat::Auto), Decoder::Raster);
        assert_eq!(decoder_for("c.png", InputFormat::Dicom), Decoder::Dicom);
    }
}
