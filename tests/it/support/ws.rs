//! Raw WebSocket sessions with a simulator (tokio-tungstenite, no adapter code): connect, the
//! subscribe / unsubscribe request, and the decryption of execution notices.

use aegis::sim::SimHandle;
use serde_json::json;

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a session on `path` (`/tryitout` for the paper host) of the simulator.
pub async fn connect(sim: &SimHandle, path: &str) -> Ws {
    let (ws, _) =
        tokio_tungstenite::connect_async(format!("{}{path}", sim.ws_url)).await.expect("ws connect");
    ws
}

/// The subscribe (`tr_type` "1") / unsubscribe ("2") message (REFERENCE.md §6.2).
pub fn request(approval: &str, tr_type: &str, tr_id: &str, tr_key: &str) -> String {
    json!({"header":{"approval_key":approval,"custtype":"P","tr_type":tr_type,"content-type":"utf-8"},
           "body":{"input":{"tr_id":tr_id,"tr_key":tr_key}}})
    .to_string()
}

/// An execution notice's payload (REFERENCE.md §6.5): Base64 → AES-256-CBC with the ack's
/// key/iv (UTF-8 bytes) → PKCS#7 → UTF-8.
pub fn decrypt(key: &str, iv: &str, b64: &str) -> String {
    use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
    use base64::Engine;
    let ct = base64::engine::general_purpose::STANDARD.decode(b64).expect("notice payload is Base64");
    let dec = cbc::Decryptor::<aes::Aes256>::new_from_slices(key.as_bytes(), iv.as_bytes()).expect("key/iv");
    let plain = dec.decrypt_padded_vec_mut::<Pkcs7>(&ct).expect("AES-256-CBC / PKCS#7");
    String::from_utf8(plain).expect("decrypted notice is UTF-8")
}
