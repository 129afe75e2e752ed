// Links libmmapkit: from MMAPKIT_LIB_DIR when set (a build tree), else as pkg-config
// says (an installed libmmapkit-dev).  No crate needed: pkg-config is run directly.
use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=MMAPKIT_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    if let Ok(dir) = env::var("MMAPKIT_LIB_DIR") {
        println!("cargo:rustc-link-search=native={}", dir);
        println!("cargo:rustc-link-lib=dylib=mmapkit");
        return;
    }
    let out = Command::new("pkg-config")
        .args(["--libs", "mmapkit"])
        .output()
        .expect("mmapkit-sys: cannot run pkg-config");
    if !out.status.success() {
        panic!(
            "mmapkit-sys: pkg-config --libs mmapkit failed (install libmmapkit-dev or set MMAPKIT_LIB_DIR): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for flag in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        if let Some(dir) = flag.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={}", dir);
        } else if let Some(lib) = flag.strip_prefix("-l") {
            println!("cargo:rustc-link-lib=dylib={}", lib);
        }
    }
}
