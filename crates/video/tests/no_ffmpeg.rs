//! Without ffmpeg on PATH a video file is refused with the install command, while the other
//! sources keep working. Its own test binary: it changes PATH for the whole process.

use edgebench_video::source::{open, OpenOptions, SourceSpec};

#[test]
fn missing_ffmpeg_names_the_fix_and_other_sources_still_work() {
    let empty = tempfile::tempdir().unwrap();
    let file = empty.path().join("clip.mp4");
    std::fs::write(&file, b"whatever").unwrap();
    std::env::set_var("PATH", empty.path());
    let spec = SourceSpec::parse(file.to_str().unwrap()).unwrap();
    let e = open(&spec, "clip.mp4", &OpenOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("`ffprobe` was not found on PATH"), "{e}");
    assert!(e.contains("apt-get install ffmpeg"), "{e}");
    assert!(e.contains("synthetic:WxH@FPS"), "{e}");
    let spec = SourceSpec::parse("synthetic:8x8@5").unwrap();
    let mut s = open(&spec, "synthetic:8x8@5", &OpenOptions::default()).unwrap();
    assert!(s.next_frame().unwrap().is_some());
}
