//! The Anthropic stream translator on arbitrary bytes, fed in two pieces: it never panics, and
//! every chunk it yields serializes.

#![no_main]

use bulkhead_inference::StreamTranslator;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, bytes)) = data.split_first() else {
        return;
    };
    let cut = usize::from(cut) * bytes.len() / 256;
    let mut translator = StreamTranslator::new("fuzz", cut % 2 == 0);
    let mut out = Vec::new();
    if translator.push_bytes(&bytes[..cut], &mut out).is_ok() {
        let _ = translator.push_bytes(&bytes[cut..], &mut out);
    }
    let _ = translator.finish();
    for chunk in &out {
        assert!(serde_json::to_vec(chunk).is_ok());
    }
});
