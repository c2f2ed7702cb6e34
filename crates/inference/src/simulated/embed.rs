//! The simulated provider's embeddings: unit-length vectors drawn from a hash of each input.
//!
//! The same input always gets the same vector, so tests of caching, batching and similarity
//! plumbing can compare vectors exactly.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bulkhead_core::{
    Embedding, EmbeddingInput, EmbeddingRequest, EmbeddingResponse, EmbeddingUsage,
    EmbeddingVector, Error, Map,
};

use super::rng::{SplitMix64, hash_bytes};
use super::text::count_tokens;

/// Embed every input of `request` with `default_dimensions` unless it asks for `dimensions`.
pub(super) fn embed(
    request: &EmbeddingRequest,
    default_dimensions: usize,
    provider: &str,
) -> Result<EmbeddingResponse, Error> {
    let bad =
        |what: &str| Error::bad_request(format!("provider `{provider}`: {what}")).with_status(400);
    let dimensions = request
        .dimensions
        .map_or(default_dimensions, |d| d as usize);
    if dimensions == 0 {
        return Err(bad("dimensions must be at least 1"));
    }
    if request.input.is_empty() {
        return Err(bad("input must not be empty"));
    }
    let base64 = match request.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => return Err(bad(&format!("unknown encoding_format `{other}`"))),
    };
    let mut tokens = 0u32;
    let mut hashes = Vec::with_capacity(request.input.len());
    match &request.input {
        EmbeddingInput::Text(text) => {
            tokens += count_tokens(text);
            hashes.push(hash_bytes(text.as_bytes()));
        }
        EmbeddingInput::Texts(texts) => {
            for text in texts {
                tokens += count_tokens(text);
                hashes.push(hash_bytes(text.as_bytes()));
            }
        }
        EmbeddingInput::Tokens(ids) => {
            tokens += ids.len() as u32;
            hashes.push(hash_tokens(ids));
        }
        EmbeddingInput::TokenBatches(batches) => {
            for ids in batches {
                tokens += ids.len() as u32;
                hashes.push(hash_tokens(ids));
            }
        }
    }
    let data = hashes
        .into_iter()
        .enumerate()
        .map(|(index, hash)| {
            let vector = unit_vector(hash, dimensions);
            Embedding {
                object: "embedding".to_owned(),
                index: index as u32,
                embedding: if base64 {
                    EmbeddingVector::Base64(to_base64(&vector))
                } else {
                    EmbeddingVector::Float(vector)
                },
            }
        })
        .collect();
    Ok(EmbeddingResponse {
        object: "list".to_owned(),
        data,
        model: request.model.clone(),
        usage: EmbeddingUsage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
        extra: Map::new(),
    })
}

fn hash_tokens(ids: &[u32]) -> u64 {
    let bytes: Vec<u8> = ids.iter().flat_map(|id| id.to_le_bytes()).collect();
    // A prefix keeps token ids from colliding with text of the same bytes.
    hash_bytes(&[b"tokens\0".as_slice(), &bytes].concat())
}

/// `dimensions` numbers in [-1, 1) from the hash, scaled to length 1.
fn unit_vector(hash: u64, dimensions: usize) -> Vec<f64> {
    let mut rng = SplitMix64::new(hash);
    let mut vector: Vec<f64> = (0..dimensions)
        .map(|_| rng.next_f64() * 2.0 - 1.0)
        .collect();
    let norm = vector.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    } else {
        vector[0] = 1.0;
    }
    vector
}

/// Standard base64 (with padding) of the little-endian bytes of each float, as OpenAI sends
/// `encoding_format = "base64"`.
fn to_base64(vector: &[f64]) -> String {
    let bytes: Vec<u8> = vector
        .iter()
        .flat_map(|&x| (x as f32).to_le_bytes())
        .collect();
    STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_known_values() {
        assert_eq!(to_base64(&[]), "");
        // 1.0f32 = 00 00 80 3f
        assert_eq!(to_base64(&[1.0]), "AACAPw==");
        assert_eq!(to_base64(&[1.0, 1.0]), "AACAPwAAgD8=");
    }

    #[test]
    fn vectors_have_unit_length() {
        let v = unit_vector(12345, 64);
        let norm: f64 = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
    }
}
