//! The SSE decoder on arbitrary bytes: it never panics, and splitting the input at any point
//! gives the same events (or the same error) as feeding it whole.

#![no_main]

use bulkhead_inference::SseDecoder;
use libfuzzer_sys::fuzz_target;

fn decode(
    pieces: &[&[u8]],
) -> Result<Vec<bulkhead_inference::SseEvent>, bulkhead_inference::SseError> {
    let mut decoder = SseDecoder::with_max_line_len(4096);
    let mut out = Vec::new();
    for piece in pieces {
        decoder.push(piece);
        while let Some(event) = decoder.next_event()? {
            out.push(event);
        }
    }
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, bytes)) = data.split_first() else {
        return;
    };
    let cut = usize::from(cut) * bytes.len() / 256;
    let whole = decode(&[bytes]);
    let split = decode(&[&bytes[..cut], &bytes[cut..]]);
    // An over-long line may be noticed at a different point, but both must fail or both pass.
    match (&whole, &split) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(_), Err(_)) => {}
        _ => panic!("split changed the outcome: {whole:?} vs {split:?}"),
    }
});
