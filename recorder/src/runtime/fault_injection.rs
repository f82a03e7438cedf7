//! Test-only panic injection (cargo feature `fault-injection`).

use std::sync::OnceLock;

static PANIC_LINE: OnceLock<Option<i64>> = OnceLock::new();

#[allow(clippy::panic)]
pub fn maybe_panic(line: i64) {
    let target = PANIC_LINE.get_or_init(|| {
        std::env::var("CODETRACER_TEST_PANIC_ON_LINE")
            .ok()
            .and_then(|v| v.parse().ok())
    });
    if *target == Some(line) {
        panic!("injected panic at line {line}");
    }
}
