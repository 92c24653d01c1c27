// A build script's failure is the developer's, and a panic is how it reports one.
#![allow(clippy::expect_used)]

fn main() {
    println!("cargo:rerun-if-changed=grammar/nas.lalrpop");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    lalrpop::Configuration::new().set_in_dir("grammar").set_out_dir(out).process().expect("grammar/nas.lalrpop must compile");
}
