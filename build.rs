// Migrations are embedded in the binary: rebuild when one changes. Integration tests that
// need PostgreSQL or an external tool are compiled to run only when the build sees it, so
// that without it they are reported as ignored rather than passed.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-env-changed=TEST_DATABASE_URL");
    println!("cargo:rerun-if-env-changed=PATH");
    println!("cargo::rustc-check-cfg=cfg(webfb_postgres_tests)");
    println!("cargo::rustc-check-cfg=cfg(webfb_oathtool)");
    println!("cargo::rustc-check-cfg=cfg(webfb_curl)");
    println!("cargo::rustc-check-cfg=cfg(webfb_aiosmtpd)");
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty()) {
        println!("cargo:rustc-cfg=webfb_postgres_tests");
    }
    if on_path("oathtool") {
        println!("cargo:rustc-cfg=webfb_oathtool");
    }
    if on_path("curl") {
        println!("cargo:rustc-cfg=webfb_curl");
    }
    let aiosmtpd = std::process::Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .output()
        .is_ok_and(|out| out.status.success());
    if aiosmtpd {
        println!("cargo:rustc-cfg=webfb_aiosmtpd");
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}
