//! Compiles the kernel half (bpf/probe.bpf.c) with clang. Without clang the crate still builds: the object is
//! empty and starting the probe says what to install (scripts/setup does it).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("probe.bpf.o");
    println!("cargo:rerun-if-changed=bpf/probe.bpf.c");
    println!("cargo:rerun-if-env-changed=CLANG");
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".to_owned());
    let arch_include = format!(
        "/usr/include/{}-linux-gnu",
        std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default()
    );
    let status = Command::new(&clang)
        .args(["-target", "bpf", "-O2", "-g", "-Wall", "-Werror"])
        .arg(format!("-I{arch_include}"))
        .args(["-c", "bpf/probe.bpf.c", "-o"])
        .arg(&out)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("{clang} failed to compile bpf/probe.bpf.c ({s})"),
        Err(e) => {
            println!("cargo:warning=eBPF probe not built: cannot run {clang} ({e}); install clang, llvm and libbpf-dev (scripts/setup does)");
            std::fs::write(&out, b"").expect("OUT_DIR is writable");
        }
    }
}
