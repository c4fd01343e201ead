//! The README's library example is this crate's `src/main.rs` (built and
//! linted in CI), so it keeps compiling.

#[test]
fn the_readme_library_example_is_this_crates_main() {
    let readme = include_str!("../../../README.md");
    let main = include_str!("../src/main.rs");
    let code: String = main
        .lines()
        .skip_while(|line| line.starts_with("//!") || line.is_empty())
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(
        readme.contains(&format!("```rust\n{code}```")),
        "README.md's library snippet differs from tests/downstream/src/main.rs"
    );
}
