//! Fuzz the lab-file parser and validator, and everything a valid lab feeds.
//!
//! Any input must come back as a lab or as diagnostics, never a panic. A valid
//! lab must print back to a file that parses to the same lab, and compile to
//! every target.

#![no_main]

use libfuzzer_sys::fuzz_target;
use labnet::labfile::{parse, to_toml};
use labnet::target::{CompileOptions, Target, compile};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse("fuzz.toml", text) {
        Ok(file) => {
            let lab = file.lab();
            let printed = to_toml(lab);
            let back = parse("printed.toml", &printed).expect("a printed valid lab parses");
            assert_eq!(back.lab(), lab, "print/parse round trip changed the lab");
            for target in Target::ALL {
                let opts = CompileOptions::target(target);
                let _ = compile(lab, &opts);
            }
        }
        Err(diags) => {
            assert!(diags.has_errors());
            let _ = diags.render(&labnet::diag::Style::plain());
        }
    }
});
