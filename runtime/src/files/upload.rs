//! One uploaded file, from its first bytes to a stored object (SPEC §13): typed by its content
//! before anything is stored, hashed and counted while it streams to the store, refused the
//! moment it crosses `max-size`. Memory held is the sniffed head plus the store's part buffer,
//! whatever the file's size.

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use ward_ir::FileRules;

use super::mac::hex;
use super::meta::Stored;
use super::store::FileStore;
use crate::error::ApiError;

/// How much of the head is read before the type is decided: more than any signature `infer`
/// knows needs.
const SNIFF: usize = 8 * 1024;
/// Parts in flight to the store at once, each up to 5 MiB.
const IN_FLIGHT: usize = 2;
/// The longest filename kept (characters); longer ones are cut.
const NAME_CHARS: usize = 255;

/// The media type of content starting with `head` (`complete`: the head is the whole file):
/// its signature when `infer` knows one, else text when it is UTF-8, else
/// `application/octet-stream`.
pub fn media_type(head: &[u8], complete: bool) -> String {
    if let Some(t) = infer::get(head) {
        return t.mime_type().to_owned();
    }
    let text = match std::str::from_utf8(head) {
        Ok(_) => true,
        // A character cut by the sniff's end is still text.
        Err(e) => !complete && e.error_len().is_none(),
    };
    if text && !head.contains(&0) {
        "text/plain".to_owned()
    } else {
        "application/octet-stream".to_owned()
    }
}

/// The client's filename as metadata: its last path segment, without control characters,
/// at most [`NAME_CHARS`] characters; `file` when nothing is left.
pub fn clean_name(raw: Option<&str>) -> String {
    let last = raw
        .unwrap_or_default()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default();
    let name: String = last
        .chars()
        .filter(|c| !c.is_control())
        .take(NAME_CHARS)
        .collect();
    let name = name.trim();
    if name.is_empty() || name == "." || name == ".." {
        "file".to_owned()
    } else {
        name.to_owned()
    }
}

/// Streams `chunks` into a new object of `table`.`column`; returns what was stored. On any
/// refusal or failure the object is aborted, so nothing stays behind.
pub async fn receive<S>(
    files: &FileStore,
    table: &str,
    column: &str,
    rules: &FileRules,
    filename: Option<&str>,
    mut chunks: S,
) -> Result<Stored, ApiError>
where
    S: Stream<Item = Result<Bytes, ApiError>> + Unpin,
{
    let too_large = || ApiError::file_too_large(column, rules.max_size);
    let mut head = BytesMut::new();
    let mut complete = false;
    while head.len() < SNIFF {
        match chunks.next().await {
            Some(chunk) => {
                head.extend_from_slice(&chunk?);
                if head.len() as u64 > rules.max_size {
                    return Err(too_large());
                }
            }
            None => {
                complete = true;
                break;
            }
        }
    }
    let media_type = media_type(&head[..head.len().min(SNIFF)], complete);
    if !rules.allows(&media_type) {
        return Err(ApiError::file_type_not_allowed(
            column,
            &media_type,
            &rules.types,
        ));
    }
    let key = FileStore::new_key(table, column);
    let mut writer = files.writer(&key).await?;
    let mut hash = Sha256::new();
    let mut size = head.len() as u64;
    hash.update(&head);
    writer.put(head.freeze());
    let streamed: Result<(), ApiError> = async {
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            size += chunk.len() as u64;
            if size > rules.max_size {
                return Err(too_large());
            }
            hash.update(&chunk);
            writer
                .wait_for_capacity(IN_FLIGHT)
                .await
                .map_err(ApiError::file_store_unavailable)?;
            writer.put(chunk);
        }
        Ok(())
    }
    .await;
    if let Err(e) = streamed {
        // Aborting removes the parts written so far; if even that fails, the sweeper finds
        // the object unreferenced.
        let _ = writer.abort().await;
        return Err(e);
    }
    writer
        .finish()
        .await
        .map_err(ApiError::file_store_unavailable)?;
    Ok(Stored {
        name: clean_name(filename),
        size,
        media_type,
        sha256: hex(&hash.finalize()),
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_decides_the_type() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(media_type(png, true), "image/png");
        assert_eq!(media_type(b"%PDF-1.7\n", true), "application/pdf");
        assert_eq!(media_type(b"hello, world", true), "text/plain");
        assert_eq!(media_type("caf\u{e9}".as_bytes(), true), "text/plain");
        // A character cut at the end of the sniffed head is still text, unless the file ends.
        let cut = &"caf\u{e9}".as_bytes()[..4];
        assert_eq!(media_type(cut, false), "text/plain");
        assert_eq!(media_type(cut, true), "application/octet-stream");
        assert_eq!(media_type(b"\0\x01\x02", true), "application/octet-stream");
    }

    #[test]
    fn filenames_are_metadata_only() {
        assert_eq!(clean_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(clean_name(Some("C:\\Users\\me\\cat.png")), "cat.png");
        assert_eq!(clean_name(Some("a\u{0}b\nc.txt")), "abc.txt");
        assert_eq!(clean_name(Some("..")), "file");
        assert_eq!(clean_name(None), "file");
        assert_eq!(clean_name(Some(&"x".repeat(1000))).chars().count(), 255);
    }
}
