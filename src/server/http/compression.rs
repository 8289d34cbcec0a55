//! Pages are sent compressed (brotli, else gzip, as the browser accepts) while they stream: each
//! chunk Leptos sends — the shell at once, then each panel as its data arrives — is compressed
//! and flushed on its own, so the browser can show it without waiting for the rest. (tower-http's
//! `CompressionLayer` holds a streamed body back until its encoder's buffer fills: the shell would
//! wait for the slowest panel.) Only HTML is compressed here: the wasm, JS and CSS are compressed
//! at build time (`--precompress`) and served as such; server-function answers are small.
use std::io::Write;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use futures::StreamExt;

/// Brotli's quality for pages: fast enough to compress each chunk as it goes (quality 4 compresses
/// the dashboard's 33 KB to about 7 KB).
const BROTLI_QUALITY: u32 = 4;
const BROTLI_WINDOW_BITS: u32 = 22;
const GZIP_LEVEL: u32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Brotli,
    Gzip,
}

impl Encoding {
    fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Encoding::Brotli => "br",
            Encoding::Gzip => "gzip",
        })
    }
}

/// The encoding to answer with: brotli when the browser accepts it, else gzip, else none. A coding
/// listed with `q=0` is refused.
pub fn preferred_encoding(headers: &HeaderMap) -> Option<Encoding> {
    let accepted: Vec<&str> = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|item| {
            let mut parts = item.split(';');
            let coding = parts.next()?.trim();
            let refused = parts.any(|param| param.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()) == Some(0.0));
            (!refused).then_some(coding)
        })
        .collect();
    let accepts = |name: &str| accepted.iter().any(|coding| coding.eq_ignore_ascii_case(name));
    if accepts("br") {
        Some(Encoding::Brotli)
    } else if accepts("gzip") {
        Some(Encoding::Gzip)
    } else {
        None
    }
}

/// Compresses HTML responses for browsers that accept it.
pub async fn compress_pages(request: Request, next: Next) -> Response {
    let encoding = if request.method() == Method::HEAD { None } else { preferred_encoding(request.headers()) };
    let response = next.run(request).await;
    let Some(encoding) = encoding else { return response };
    let is_html = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"));
    if !is_html || response.headers().contains_key(header::CONTENT_ENCODING) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    parts.headers.insert(header::CONTENT_ENCODING, encoding.header_value());
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    Response::from_parts(parts, Body::from_stream(compressed(body, encoding)))
}

/// The body compressed chunk by chunk, each chunk flushed.
fn compressed(body: Body, encoding: Encoding) -> impl futures::Stream<Item = Result<Bytes, axum::Error>> + Send {
    let state = (body.into_data_stream(), Some(Encoder::new(encoding)));
    futures::stream::unfold(state, |(mut chunks, mut encoder)| async move {
        let open = encoder.as_mut()?;
        let out = match chunks.next().await {
            Some(Ok(chunk)) => open.compress_and_flush(&chunk).map_err(axum::Error::new),
            Some(Err(error)) => {
                encoder = None;
                Err(error)
            }
            None => encoder.take().map_or(Ok(Bytes::new()), |e| e.finish().map_err(axum::Error::new)),
        };
        Some((out, (chunks, encoder)))
    })
    .filter(|out| std::future::ready(!matches!(out, Ok(bytes) if bytes.is_empty())))
}

enum Encoder {
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
}

impl Encoder {
    fn new(encoding: Encoding) -> Self {
        match encoding {
            Encoding::Brotli => Encoder::Brotli(Box::new(brotli::CompressorWriter::new(Vec::new(), 4096, BROTLI_QUALITY, BROTLI_WINDOW_BITS))),
            Encoding::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(GZIP_LEVEL))),
        }
    }

    /// Everything written so far, compressed, ending on a flush point the browser can decode up to.
    fn compress_and_flush(&mut self, chunk: &[u8]) -> std::io::Result<Bytes> {
        if chunk.is_empty() {
            return Ok(Bytes::new());
        }
        let out = match self {
            Encoder::Brotli(writer) => {
                writer.write_all(chunk)?;
                writer.flush()?;
                writer.get_mut()
            }
            Encoder::Gzip(writer) => {
                writer.write_all(chunk)?;
                writer.flush()?;
                writer.get_mut()
            }
        };
        Ok(Bytes::from(std::mem::take(out)))
    }

    fn finish(self) -> std::io::Result<Bytes> {
        match self {
            Encoder::Brotli(writer) => Ok(Bytes::from(writer.into_inner())),
            Encoder::Gzip(writer) => writer.finish().map(Bytes::from),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn brotli_first_then_gzip_and_refusals_respected() {
        assert_eq!(preferred_encoding(&accept("gzip, deflate, br, zstd")), Some(Encoding::Brotli));
        assert_eq!(preferred_encoding(&accept("gzip, deflate")), Some(Encoding::Gzip));
        assert_eq!(preferred_encoding(&accept("br;q=0, gzip;q=0.5")), Some(Encoding::Gzip));
        assert_eq!(preferred_encoding(&accept("identity")), None);
        assert_eq!(preferred_encoding(&HeaderMap::new()), None);
    }

    /// Each chunk can be decoded as soon as it arrives, before the stream ends: what lets the
    /// browser paint the shell while the panels load.
    #[test]
    fn every_chunk_is_decodable_on_arrival() {
        for encoding in [Encoding::Brotli, Encoding::Gzip] {
            let mut encoder = Encoder::new(encoding);
            let shell = "<!DOCTYPE html><html><body><main>the shell</main>".repeat(20);
            let first = encoder.compress_and_flush(shell.as_bytes()).unwrap();
            assert!(first.len() < shell.len() / 4, "{encoding:?}: {} bytes for {}", first.len(), shell.len());

            // Decode what has arrived so far, without the end of the stream.
            let mut decoded = Vec::new();
            let mut buffer = [0u8; 4096];
            match encoding {
                Encoding::Brotli => {
                    let mut reader = brotli::Decompressor::new(&first[..], 4096);
                    while let Ok(n) = reader.read(&mut buffer) {
                        if n == 0 {
                            break;
                        }
                        decoded.extend_from_slice(&buffer[..n]);
                    }
                }
                Encoding::Gzip => {
                    let mut reader = flate2::read::GzDecoder::new(&first[..]);
                    while let Ok(n) = reader.read(&mut buffer) {
                        if n == 0 {
                            break;
                        }
                        decoded.extend_from_slice(&buffer[..n]);
                    }
                }
            }
            assert_eq!(String::from_utf8(decoded).unwrap(), shell, "{encoding:?}");

            let rest = encoder.compress_and_flush(b"<template>a panel</template></body></html>").unwrap();
            let end = encoder.finish().unwrap();
            let whole = [&first[..], &rest[..], &end[..]].concat();
            let mut all = String::new();
            match encoding {
                Encoding::Brotli => brotli::Decompressor::new(&whole[..], 4096).read_to_string(&mut all).unwrap(),
                Encoding::Gzip => flate2::read::GzDecoder::new(&whole[..]).read_to_string(&mut all).unwrap(),
            };
            assert_eq!(all, format!("{shell}<template>a panel</template></body></html>"), "{encoding:?}");
        }
    }
}
