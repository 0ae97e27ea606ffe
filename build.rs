//! Rebuild when the embedded templates or profiles change (include_dir! alone
//! does not tell cargo about files added to the directory).
fn main() {
    println!("cargo:rerun-if-changed=templates");
    println!("cargo:rerun-if-changed=profiles");
}
