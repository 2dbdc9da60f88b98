"""DICOM fidelity against pydicom: every pixel of `cxrshard decode --size native` (uint8 display)
agrees with pydicom's apply_modality_lut -> apply_voi_lut -> inversion -> linear scaling to 0..255
within 1 grey level, and lossless files reproduce pydicom's `pixel_array` exactly (`--raw`).

Inputs: every DICOM shipped in pydicom's wheel (data/test_files; nothing is downloaded), and
CXR-sized files made from `cxrshard synth` output plus variants written here (8-bit, signed,
VOI LUT Sequence, Modality LUT Sequence, Presentation LUT Shape INVERSE, pixel padding),
re-encoded by dcmtk (dcmconv, dcmcjpeg incl. 12-bit JPEG Extended, dcmcjpls, dcmcrle), GDCM
(gdcmconv --j2k, lossless, 10:1 and 100:1) and OpenJPH through imagecodecs (HTJ2K, lossless and
lossy; neither dcmtk nor GDCM writes it).

pydicom's decoding plugin is pinned for lossy JPEG (see `reference_plugin`): cxrshard decodes it
with libjpeg-turbo, and so does pydicom's Pillow plugin, so 8-bit lossy JPEG must match exactly.
Pillow cannot decode 12-bit JPEG: there the reference is pylibjpeg (Thomas Richter's libjpeg),
a different IDCT, and every display pixel must still be within 1 grey level.

  python check_dicom_parity.py --bin target/release/cxrshard --synth DIR --work DIR
"""
import argparse
import glob
import os
import subprocess

import imagecodecs
import numpy as np
import pydicom
from pydicom.encaps import encapsulate
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut
from pydicom.uid import UID

from checks import fail, finish

LOSSLESS = {
    "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202",
}
HTJ2K_LOSSLESS, HTJ2K = "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.203"
JPEG_LOSSY = {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51"}
# pydicom's plugins cannot decode these (pylibjpeg rejects the scan header's spectral parameters,
# which sequential JPEG ignores; libjpeg-turbo and GDCM only warn): GDCM's decode is the reference.
GDCM_REFERENCE = {"JPEG-lossy.dcm"}
# Largest stored-value difference accepted between two decoders of the same lossy stream.
LOSSY_RAW_TOL = 2


def cxrshard(binary, path, out, *extra):
    r = subprocess.run([binary, "-q", "decode", path, "--out", out, *extra], capture_output=True, text=True)
    if "panicked" in r.stderr:
        fail(f"{path}: cxrshard panicked: {r.stderr.strip()[:300]}")
    return r


def is_padding(ds, stored):
    if "PixelPaddingValue" not in ds:
        return np.zeros(stored.shape, bool)
    v = int(ds.PixelPaddingValue)
    lim = ds.get("PixelPaddingRangeLimit")
    if lim is None:
        return stored == v
    lo, hi = sorted((v, int(lim)))
    return (stored >= lo) & (stored <= hi)


def window_range(ds):
    """pydicom.pixels.apply_windowing's output range, y_min..y_max."""
    if ds.get("ModalityLUTSequence"):
        y_min, y_max = 0, 2 ** int(ds.ModalityLUTSequence[0].LUTDescriptor[2]) - 1
    elif ds.PixelRepresentation == 0:
        y_min, y_max = 0, 2 ** ds.BitsStored - 1
    else:
        y_min, y_max = -(2 ** (ds.BitsStored - 1)), 2 ** (ds.BitsStored - 1) - 1
    if ds.get("RescaleSlope") is not None and ds.get("RescaleIntercept") is not None:
        y_min = y_min * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        y_max = y_max * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    return y_min, y_max


def reference_u8(ds, stored):
    """pydicom's chain on frame 0's stored values, scaled to 0..255."""
    pad = is_padding(ds, stored)
    modality = apply_modality_lut(stored, ds)  # integer when there is no rescale (LUT indexing)
    m = modality.astype(np.float64)
    if ds.get("VOILUTSequence"):
        y = apply_voi_lut(modality, ds).astype(np.float64) / (2 ** int(ds.VOILUTSequence[0].LUTDescriptor[2]) - 1)
    elif "WindowCenter" in ds and "WindowWidth" in ds:
        y_min, y_max = window_range(ds)
        y = (apply_voi_lut(m, ds).astype(np.float64) - y_min) / (y_max - y_min)
    else:  # no VOI in the file: cxrshard's documented fallback, the image's own min..max
        lo, hi = m[~pad].min(), m[~pad].max()
        y = (m - lo) / max(hi - lo, np.finfo(float).tiny)
    y = np.clip(y, 0, 1)
    if ds.PhotometricInterpretation == "MONOCHROME1" or ds.get("PresentationLUTShape") == "INVERSE":
        y = 1 - y
    y[pad] = 0
    return np.round(y * 255).astype(np.int32)


def reference_plugin(ds):
    """The pydicom decoding plugin the reference uses: for lossy JPEG, Pillow (libjpeg-turbo, the
    library cxrshard uses) for 8-bit, pylibjpeg for 12-bit (Pillow cannot); pydicom's default
    (the first available plugin) for everything else."""
    ts = str(ds.file_meta.TransferSyntaxUID)
    if ts not in JPEG_LOSSY:
        return ""
    return "pillow" if ds.BitsStored <= 8 else "pylibjpeg"


def frame0(ds, plugin=None):
    ds.pixel_array_options(decoding_plugin=reference_plugin(ds) if plugin is None else plugin)
    a = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    return a[0] if frames > 1 else a


def exact_codec(ds):
    """Whether pydicom's reference decoder is the same library as cxrshard's: lossless codecs,
    and 8-bit lossy JPEG (libjpeg-turbo on both sides, `reference_plugin`)."""
    ts = str(ds.file_meta.TransferSyntaxUID)
    return ts in LOSSLESS or reference_plugin(ds) == "pillow"


def compare(binary, path, work, label, lossless, ref_path=None):
    """Windowed uint8 within 1 level of pydicom's chain; stored values exact when lossless or
    when both sides use the same codec (8-bit lossy JPEG: libjpeg-turbo).

    For other lossy syntaxes the two sides use different codecs (pylibjpeg's libjpeg/OpenJPEG/
    CharLS vs libjpeg-turbo 12-bit/openjp2/CharLS), whose inverse transforms may round a sample
    differently by a unit. Those files must (a) give pydicom's chain on *our* stored values within
    1 level and (b) differ from pydicom's stored values by at most LOSSY_RAW_TOL; 12-bit lossy
    JPEG must also be within 1 level of pydicom's own pixels everywhere. For the rest the display
    difference against pydicom's own pixels is reported (a unit of codec rounding becomes more
    than one grey level only where the window magnifies it).

    `ref_path`: the reference decoded by another tool (GDCM) for a file pydicom cannot decode."""
    ts = str(pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID)
    ds = pydicom.dcmread(ref_path or path)
    stored = frame0(ds)
    lossless = lossless or (ref_path is None and exact_codec(ds))
    out = os.path.join(work, "o.npy")
    r = cxrshard(binary, path, out, "--size", "native", "--dtype", "uint8")
    if r.returncode != 0:
        fail(f"{label}: cxrshard rejected a file pydicom decodes: {r.stderr.strip()[:300]}")
        return None
    ours = np.load(out).astype(np.int32)
    ref = reference_u8(ds, stored)
    diff = int(np.abs(ours - ref).max()) if ours.shape == ref.shape else None
    cxrshard(binary, path, out, "--raw")
    raw = np.load(out)
    if raw.shape != stored.shape:
        fail(f"{label}: --raw shape {raw.shape} != pydicom {stored.shape}")
        return None
    if lossless:
        same_type = (raw.dtype.kind, raw.dtype.itemsize) == (stored.dtype.kind, stored.dtype.itemsize)
        if not (same_type and np.array_equal(raw, stored)):
            fail(f"{label}: --raw {raw.dtype} != pydicom pixel_array {stored.dtype} "
                 f"(max |diff| {np.abs(raw.astype(np.int64) - stored).max()})")
        if diff is None or diff > 1:
            fail(f"{label}: windowed uint8 differs from pydicom by {diff} levels")
        print(f"  {label:<58} {str(stored.shape):<14} max|diff| {diff}  raw exact")
        return diff
    raw_diff = int(np.abs(raw.astype(np.int64) - stored).max())
    chain = int(np.abs(ours - reference_u8(ds, raw.astype(stored.dtype))).max())
    over = float(np.mean(np.abs(ours - ref) > 1)) if diff is not None else 1.0
    if chain > 1:
        fail(f"{label}: pydicom's chain on our stored values differs by {chain} levels")
    if raw_diff > LOSSY_RAW_TOL:
        fail(f"{label}: lossy decode differs from pydicom's by {raw_diff} stored units (> {LOSSY_RAW_TOL})")
    if ts in JPEG_LOSSY and (diff is None or diff > 1):
        fail(f"{label}: 12-bit lossy JPEG differs from the reference decoder by {diff} grey levels (> 1)")
    print(f"  {label:<58} {str(stored.shape):<14} max|diff| {diff} ({over:.2e} of pixels > 1; "
          f"same stored values: {chain}); codec |diff| {raw_diff} "
          f"({np.mean(raw.astype(np.int64) != stored):.2e} of pixels)")
    return diff


def compare_luma(binary, path, work, label, ds, rgb, required=False):
    """`image.color = "luma"`: Rec. 601 luma of pydicom's RGB, min..max to 0..255, within 1 level.
    A reject is reported, and is a failure when `required`."""
    out = os.path.join(work, "o.npy")
    r = cxrshard(binary, path, out, "--size", "native", "--set", "image.color=luma")
    if r.returncode != 0:
        (fail if required else print)(f"  {label + ' (luma)':<58} rejected: {r.stderr.strip()[-110:]}")
        return
    rgb = rgb.astype(np.float64)  # pydicom 3's pixel_array is already RGB for YBR files (as_rgb)
    luma = np.round(rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114)
    lo, hi = luma.min(), luma.max()
    ref = np.round((luma - lo) / max(hi - lo, 1e-300) * 255).astype(np.int32)
    diff = int(np.abs(np.load(out).astype(np.int32) - ref).max())
    if diff > 1:
        fail(f"{label} (luma): differs from pydicom's RGB luma by {diff} levels")
    print(f"  {label + ' (luma)':<58} {str(ref.shape):<14} max|diff| {diff}")


def expect_reject(binary, path, work, label, words, *extra):
    r = cxrshard(binary, path, os.path.join(work, "o.npy"), "--size", "native", *extra)
    if r.returncode != 1 or not any(w in r.stderr for w in words):
        fail(f"{label}: expected a reject mentioning {words}, got rc {r.returncode}: {r.stderr.strip()[:200]}")
    else:
        print(f"  {label:<58} rejected: {r.stderr.strip().splitlines()[-1][:110]}")


def pydicom_files(binary, work):
    folder = os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files")
    files = sorted(glob.glob(os.path.join(folder, "*.dcm")))
    print(f"-- {len(files)} DICOM files shipped with pydicom {pydicom.__version__}")
    checked = 0
    for f in files:
        name = os.path.basename(f)
        try:
            ds = pydicom.dcmread(f)
            ts = str(ds.file_meta.TransferSyntaxUID) if "TransferSyntaxUID" in ds.get("file_meta", {}) else None
            stored = frame0(ds)
        except Exception as e:  # not an image pydicom can decode: we must reject, not crash ...
            if name in GDCM_REFERENCE:  # ... unless GDCM (its own IJG libjpeg) decodes it
                ref = os.path.join(work, "gdcm_raw.dcm")
                subprocess.run(["gdcmconv", "--raw", f, ref], capture_output=True, check=True)
                compare(binary, f, work, f"{name} (reference: gdcmconv --raw)", False, ref_path=ref)
                checked += 1
                continue
            r = cxrshard(binary, f, os.path.join(work, "o.npy"), "--size", "native")
            ok = r.returncode == 1 and "error:" in r.stderr
            (print if ok else fail)(f"  {name:<58} pydicom: {type(e).__name__}; cxrshard rc {r.returncode}: "
                                    f"{r.stderr.strip()[-100:]}")
            continue
        spp = int(ds.get("SamplesPerPixel", 1))
        if ds.BitsAllocated not in (8, 16) or ts is None:
            expect_reject(binary, f, work, name, ["BitsAllocated", "Part 10"])
            continue
        if spp == 3 or ds.PhotometricInterpretation == "PALETTE COLOR":
            # SC_rgb_jpeg.dcm's data set is implicit VR under an explicit VR transfer syntax:
            # pydicom notices and switches; dicom-object 0.10 reads its text as a 1.2 GB length,
            # which cxrshard's length check rejects before the parser makes room for it
            expect_reject(binary, f, work, name, ["colour image", "PALETTE COLOR", "not a readable DICOM", "declares"])
            if spp == 3 and ts in LOSSLESS:
                compare_luma(binary, f, work, name, ds, stored)
            if spp == 1 and ts in LOSSLESS:  # PALETTE COLOR: pydicom's apply_color_lut, then luma
                compare_luma(binary, f, work, name, ds, apply_color_lut(stored, ds), required=True)
            continue
        compare(binary, f, work, name, ts in LOSSLESS)
        checked += 1
        if int(ds.get("NumberOfFrames", 1) or 1) > 1:
            expect_reject(binary, f, work, name + " (multiframe=reject)", ["multi-frame"],
                          "--set", "image.multiframe=reject")
    return checked


def variants(src_files, work):
    """CXR-sized variants written with pydicom: each exercises one part of the chain."""
    out = []
    for n, f in enumerate(src_files):
        ds = pydicom.dcmread(f)
        out.append((f"synth{n}", f))
        a = ds.pixel_array.astype(np.int32)
        bs = ds.BitsStored
        if n == 0:  # 8-bit, no window (fallback), for JPEG baseline
            e = pydicom.dcmread(f)
            e.PixelData = (a >> (bs - 8)).astype(np.uint8).tobytes()
            e.BitsAllocated, e.BitsStored, e.HighBit = 8, 8, 7
            for k in ("WindowCenter", "WindowWidth", "RescaleSlope", "RescaleIntercept", "VOILUTFunction"):
                if k in e:
                    delattr(e, k)
            out.append(("8bit", save(e, work, "v8bit.dcm")))
        if n == 0:  # two frames (frame 1 = inverted): frame 0 is decoded, or rejected on request
            e = pydicom.dcmread(f)
            second = (2 ** bs - 1 - a).astype(np.uint16)
            e.PixelData = a.astype(np.uint16).tobytes() + second.tobytes()
            e.NumberOfFrames = 2
            out.append(("2-frame", save(e, work, "v2frame.dcm")))
        if n == 1:  # signed with rescale and a window, plus padding
            e = pydicom.dcmread(f)
            s = a - 2 ** (bs - 1)
            s[:64, :] = -(2 ** (bs - 1))
            e.PixelData = s.astype(np.int16).tobytes()
            e.PixelRepresentation = 1
            e.RescaleSlope, e.RescaleIntercept = 2, -100
            e.WindowCenter, e.WindowWidth = float(2 * np.median(s) - 100), float(2 * (s.max() - s.min()) * 0.6)
            e.VOILUTFunction = "LINEAR"
            e.add_new(0x00280120, "SS", -(2 ** (bs - 1)))
            out.append(("signed+padding", save(e, work, "vsigned.dcm")))
        if n == 2:  # VOI LUT Sequence (gamma), Presentation LUT Shape INVERSE on MONOCHROME2
            e = pydicom.dcmread(f)
            e.PhotometricInterpretation = "MONOCHROME2"
            entries = 2 ** bs
            lut = np.round(65535 * (np.arange(entries) / (entries - 1)) ** 0.6).astype(np.uint16)
            item = pydicom.Dataset()
            item.add_new(0x00283002, "US", [entries if entries < 65536 else 0, 0, 16])
            item.add_new(0x00283006, "OW", lut.tobytes())
            e.VOILUTSequence = pydicom.Sequence([item])
            e.PresentationLUTShape = "INVERSE"
            out.append(("voi-lut+inverse", save(e, work, "vvoilut.dcm")))
        if n == 3:  # Modality LUT Sequence, then the file's window in its output units
            e = pydicom.dcmread(f)
            entries = 2 ** bs
            lut = np.round(4095 * np.sqrt(np.arange(entries) / (entries - 1))).astype(np.uint16)
            item = pydicom.Dataset()
            item.add_new(0x00283002, "US", [entries if entries < 65536 else 0, 0, 16])  # pydicom: 8 or 16
            item.add_new(0x00283006, "OW", lut.tobytes())
            item.ModalityLUTType = "US"
            e.ModalityLUTSequence = pydicom.Sequence([item])
            for k in ("RescaleSlope", "RescaleIntercept"):
                if k in e:
                    delattr(e, k)
            e.WindowCenter, e.WindowWidth = 2000.0, 3000.0
            out.append(("modality-lut", save(e, work, "vmlut.dcm")))
    return out


def save(ds, work, name):
    path = os.path.join(work, name)
    ds.save_as(path, enforce_file_format=True)
    return path


def htj2k(lossless):
    """An encoder writing every frame as one HTJ2K codestream (OpenJPH through imagecodecs):
    reversible into HTJ2K Lossless Only, irreversible (9/7 wavelet) into HTJ2K."""
    def encode(src, out):
        ds = pydicom.dcmread(src)
        a = ds.pixel_array
        frames = a if int(ds.get("NumberOfFrames", 1) or 1) > 1 else a[None]
        options = {} if lossless else {"reversible": False}
        ds.PixelData = encapsulate([imagecodecs.htj2k_encode(np.ascontiguousarray(f), **options) for f in frames])
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = UID(HTJ2K_LOSSLESS if lossless else HTJ2K)
        if not lossless:
            ds.LossyImageCompression = "01"
        ds.save_as(out, enforce_file_format=True)
    return encode


def rle_near_blank(src, out):
    """`dcmcrle` of the image made four flat bands (each its first row's first value): a
    CXR-sized frame compressed ~60:1, past the 32:1 dicom-pixeldata's RLE adapter refuses for
    frames of 16 MiB or more."""
    ds = pydicom.dcmread(src)
    a = ds.pixel_array.copy()
    for f in (a if a.ndim == 3 else a[None]):
        rows = f.shape[0]
        for i in range(4):
            f[i * rows // 4:(i + 1) * rows // 4] = f[i * rows // 4, 0]
    ds.PixelData = a.tobytes()
    native = out + ".native.dcm"
    ds.save_as(native, enforce_file_format=True)
    r = subprocess.run(["dcmcrle", native, out], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"dcmcrle: {(r.stderr or r.stdout).strip()[:200]}")


ENCODERS = [  # label, command (in, out) or Python encoder, lossless, applies to (label filter)
    ("implicit VR LE (dcmconv +ti)", ["dcmconv", "+ti"], True, None),
    ("explicit VR big endian (dcmconv +tb)", ["dcmconv", "+tb"], True, None),
    ("deflated explicit VR LE (dcmconv +td)", ["dcmconv", "+td"], True, None),
    ("JPEG lossless SV1 (dcmcjpeg +e1)", ["dcmcjpeg", "+e1"], True, None),
    ("JPEG lossless process 14 sv6 (dcmcjpeg +el)", ["dcmcjpeg", "+el", "+sv", "6"], True, None),
    ("JPEG extended 8-bit (dcmcjpeg +ee)", ["dcmcjpeg", "+ee", "+q", "95"], False, "8bit"),
    ("JPEG baseline 8-bit (dcmcjpeg +eb)", ["dcmcjpeg", "+eb", "+q", "95"], False, "8bit"),
    ("JPEG extended 12-bit (dcmcjpeg +ee)", ["dcmcjpeg", "+ee"], False, "12bit"),
    ("JPEG-LS lossless (dcmcjpls +el)", ["dcmcjpls", "+el"], True, None),
    ("JPEG-LS near-lossless (dcmcjpls +en)", ["dcmcjpls", "+en", "+md", "2"], False, None),
    ("RLE lossless (dcmcrle)", ["dcmcrle"], True, None),
    ("RLE lossless, four flat bands, ~60:1 (dcmcrle)", rle_near_blank, True, "16bit"),
    ("JPEG 2000 lossless (gdcmconv --j2k)", ["gdcmconv", "--j2k"], True, None),
    ("JPEG 2000 lossy (gdcmconv --j2k --lossy -r 10)", ["gdcmconv", "--j2k", "--lossy", "-r", "10"], False, None),
    # compressed more than 64:1, which dicom-pixeldata's JPEG 2000 adapter refuses for frames of 16 MiB
    ("JPEG 2000 lossy 100:1 (gdcmconv --j2k --lossy -r 100)", ["gdcmconv", "--j2k", "--lossy", "-r", "100"], False,
     "16bit"),
    ("HTJ2K lossless (imagecodecs/OpenJPH)", htj2k(True), True, None),
    ("HTJ2K lossy (imagecodecs/OpenJPH, irreversible)", htj2k(False), False, None),
]


def cxr_sized(binary, synth, work):
    src = sorted(glob.glob(os.path.join(synth, "data", "*", "img", "*.dcm")))[:4]
    files = variants(src, work)
    print(f"-- CXR-sized: {len(files)} sources x {len(ENCODERS)} encoders")
    for label, f in files:
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        tags = {"8bit" if ds.BitsAllocated == 8 else "16bit"} | ({"12bit"} if 8 < ds.BitsStored <= 12 else set())
        compare(binary, f, work, f"{label} native", True)
        for name, cmd, lossless, only in ENCODERS:
            if only and only not in tags:
                continue
            if not callable(cmd) and "+en" in cmd and ds.PixelRepresentation == 1:
                continue  # dcmcjpls: "Unsupported pixel representation for near-lossless JPEG-LS"

            out = os.path.join(work, "enc.dcm")
            if callable(cmd):
                cmd(f, out)
            else:
                r = subprocess.run([*cmd, f, out], capture_output=True, text=True)
                if r.returncode != 0:
                    fail(f"{label} / {name}: encoder failed: {(r.stderr or r.stdout).strip()[:200]}")
                    continue
            compare(binary, out, work, f"{label} / {name}", lossless)
            if label == "2-frame" and (callable(cmd) or "dcmconv" not in cmd):
                expect_reject(binary, out, work, f"{label} / {name} (multiframe=reject)", ["multi-frame"],
                              "--set", "image.multiframe=reject")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--synth", required=True, help="a `cxrshard synth --format dicom` dataset")
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    checked = pydicom_files(a.bin, a.work)
    if checked < 18:  # pydicom 3.0.2 ships 18 greyscale files in syntaxes cxrshard decodes (2 12-bit JPEG)
        fail(f"only {checked} pydicom greyscale files were compared, expected at least 18")
    cxr_sized(a.bin, a.synth, a.work)
    finish("DICOM parity with pydicom")


if __name__ == "__main__":
    main()
