//! The OpenAI-compatible clients against a tiny canned HTTP server on 127.0.0.1.

use hektor_core::rag::models::{Embedder, GenerateOptions, Generator};
use hektor_core::rag::prompt::Message;
use hektor_core::{Error, ErrorCode};
use hektor_models::{OpenAiChat, OpenAiEmbedder};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

const KEY: &str = "sk-test-SECRET-0123456789abcdef";

/// What the server does with one request.
#[derive(Clone)]
enum Canned {
    /// Status, content type, body.
    Reply(u16, &'static str, String),
    /// Accept, read the request, then say nothing for this long.
    Silent(Duration),
}

struct Server {
    base: String,
    requests: Arc<Mutex<Vec<String>>>,
    handle: Option<JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn read_request(stream: &mut TcpStream) -> String {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut head = String::new();
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        let end = line == "\r\n";
        head.push_str(&line);
        if end {
            break;
        }
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).ok();
    head + &String::from_utf8_lossy(&body)
}

/// Serves `answers` to successive connections (one request each), then stops.
fn serve(answers: Vec<Canned>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    let handle = std::thread::spawn(move || {
        for answer in answers {
            let Ok((mut stream, _)) = listener.accept() else { return };
            stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
            seen.lock().unwrap().push(read_request(&mut stream));
            match answer {
                Canned::Reply(status, ctype, body) => {
                    let head = format!("HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nConnection: close\r\n\r\n");
                    let _ = stream.write_all(head.as_bytes());
                    // Write event streams in pieces, as a real server would.
                    for chunk in body.as_bytes().chunks(37) {
                        let _ = stream.write_all(chunk);
                        let _ = stream.flush();
                    }
                }
                Canned::Silent(d) => std::thread::sleep(d),
            }
        }
    });
    Server { base, requests, handle: Some(handle) }
}

fn json_reply(status: u16, body: serde_json::Value) -> Canned {
    Canned::Reply(status, "application/json", body.to_string())
}

fn msgs() -> Vec<Message> {
    vec![Message { role: "system".into(), content: "Be brief.".into() }, Message { role: "user".into(), content: "Hi?".into() }]
}

/// No error text, location or cause may contain the key.
fn assert_no_key(e: &Error) {
    let all = format!("{e} {:?} {:?} {:?}", e.message(), e.location(), e.causes());
    assert!(!all.contains(KEY), "API key leaked: {all}");
    assert!(!all.contains("SECRET"), "API key fragment leaked: {all}");
}

fn sse(events: &[serde_json::Value]) -> String {
    let mut s = String::from(": keep-alive comment\n\n");
    for e in events {
        s.push_str(&format!("data: {e}\n\n"));
    }
    s + "data: [DONE]\n\n"
}

fn delta(text: &str, finish: Option<&str>) -> serde_json::Value {
    serde_json::json!({ "id": "c1", "object": "chat.completion.chunk", "choices": [{ "index": 0, "delta": { "content": text }, "finish_reason": finish }] })
}

#[test]
fn embeddings_ok_in_index_order() {
    let server = serve(vec![json_reply(
        200,
        serde_json::json!({ "object": "list", "data": [
            { "object": "embedding", "index": 1, "embedding": [0.0, 1.0, 0.5] },
            { "object": "embedding", "index": 0, "embedding": [1.0, 0.0, -0.5] }
        ], "usage": { "prompt_tokens": 4, "total_tokens": 4 } }),
    )]);
    let e = OpenAiEmbedder { dimensions: Some(3), ..OpenAiEmbedder::new(&server.base, "text-embedding-3-small").with_api_key(KEY) };
    let v = e.embed(&["first", "second"]).unwrap();
    assert_eq!(v, vec![vec![1.0, 0.0, -0.5], vec![0.0, 1.0, 0.5]]);
    assert_eq!(e.dimension(), Some(3));
    let req = server.requests.lock().unwrap()[0].clone();
    assert!(req.starts_with("POST /v1/embeddings "), "{req}");
    assert!(req.contains(&format!("Bearer {KEY}")), "the key is sent in the Authorization header");
    let body: serde_json::Value = serde_json::from_str(&req[req.find("\r\n\r\n").unwrap() + 4..]).unwrap();
    assert_eq!(body["model"], "text-embedding-3-small");
    assert_eq!(body["input"], serde_json::json!(["first", "second"]));
    assert_eq!(body["dimensions"], 3);
    assert!(!e.describe().contains(KEY) && !format!("{e:?}").contains(KEY));
}

#[test]
fn embeddings_are_sent_in_batches() {
    let one = |x: f64| serde_json::json!({ "data": [{ "index": 0, "embedding": [x, 1.0] }, { "index": 1, "embedding": [x, 2.0] }] });
    let server = serve(vec![json_reply(200, one(1.0)), json_reply(200, one(2.0)), json_reply(200, serde_json::json!({ "data": [{ "index": 0, "embedding": [3.0, 1.0] }] }))]);
    let e = OpenAiEmbedder { batch_size: 2, ..OpenAiEmbedder::new(&server.base, "m") };
    let v = e.embed(&["a", "b", "c", "d", "e"]).unwrap();
    assert_eq!(v.len(), 5);
    assert_eq!(v[4], vec![3.0, 1.0]);
    assert_eq!(server.requests.lock().unwrap().len(), 3);
    assert!(!server.requests.lock().unwrap()[0].to_ascii_lowercase().contains("authorization"), "no key, no header");
}

#[test]
fn embeddings_bad_replies_are_parse_errors() {
    let server = serve(vec![
        Canned::Reply(200, "application/json", "not json {".into()),
        json_reply(200, serde_json::json!({ "object": "list" })),
        json_reply(200, serde_json::json!({ "data": [{ "index": 0 }] })),
        json_reply(200, serde_json::json!({ "data": [{ "index": 0, "embedding": [1.0, 2.0] }] })),
    ]);
    let e = OpenAiEmbedder::new(&server.base, "m").with_api_key(KEY);
    let errs: Vec<Error> = (0..3).map(|_| e.embed(&["x"]).unwrap_err()).collect();
    for err in &errs {
        assert_eq!(err.code(), ErrorCode::Parse, "{err}");
        assert_no_key(err);
    }
    assert!(errs[1].message().contains("'data'"), "{}", errs[1]);
    assert!(errs[2].message().contains("'embedding'"), "{}", errs[2]);
    let err = OpenAiEmbedder { dimensions: Some(3), ..e }.embed(&["x"]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Parse);
    assert!(err.message().contains("3 were requested"), "{err}");
}

#[test]
fn chat_streaming_ok() {
    let events = [
        serde_json::json!({ "choices": [{ "index": 0, "delta": { "role": "assistant" }, "finish_reason": null }] }),
        delta("Hel", None),
        delta("lo, wo", None),
        delta("rld! ✓", None),
        delta("", Some("stop")),
        serde_json::json!({ "choices": [], "usage": { "prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16 } }),
    ];
    let server = serve(vec![Canned::Reply(200, "text/event-stream", sse(&events))]);
    let chat = OpenAiChat::new(&server.base, "llama3.2").with_api_key(KEY);
    let mut pieces = Vec::new();
    let opts = GenerateOptions { temperature: 0.0, max_tokens: 50, seed: Some(3), stop: vec!["\n\n".into()], ..Default::default() };
    let g = chat
        .generate(&msgs(), &opts, &mut |p| {
            pieces.push(p.to_string());
            true
        })
        .unwrap();
    assert_eq!(g.text, "Hello, world! ✓");
    assert_eq!(pieces.concat(), g.text);
    assert!(pieces.len() >= 3, "streamed in pieces: {pieces:?}");
    assert_eq!(g.finish_reason, "stop");
    assert_eq!((g.prompt_tokens, g.completion_tokens), (Some(12), Some(4)));
    let req = server.requests.lock().unwrap()[0].clone();
    assert!(req.starts_with("POST /v1/chat/completions "), "{req}");
    let body: serde_json::Value = serde_json::from_str(&req[req.find("\r\n\r\n").unwrap() + 4..]).unwrap();
    assert_eq!(body["stream"], true);
    assert_eq!(body["messages"][1]["content"], "Hi?");
    assert_eq!(body["max_tokens"], 50);
    assert_eq!(body["seed"], 3);
    assert_eq!(body["stop"], serde_json::json!(["\n\n"]));
}

#[test]
fn chat_stream_stop_strings_and_abort_are_applied_client_side() {
    let events = [delta("The answer", None), delta(" is 42.\n\nQues", None), delta("tion: more", None), delta(" text", Some("length"))];
    let server = serve(vec![Canned::Reply(200, "text/event-stream", sse(&events)), Canned::Reply(200, "text/event-stream", sse(&events))]);
    let chat = OpenAiChat::new(&server.base, "m");
    let opts = GenerateOptions { stop: vec!["\n\nQuestion:".into()], ..Default::default() };
    let g = chat.generate(&msgs(), &opts, &mut |_| true).unwrap();
    assert_eq!(g.text, "The answer is 42.");
    assert_eq!(g.finish_reason, "stop");
    let mut n = 0;
    let g = chat
        .generate(&msgs(), &GenerateOptions::default(), &mut |_| {
            n += 1;
            false
        })
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(g.finish_reason, "aborted");
    assert_eq!(g.text, "The answer");
}

#[test]
fn chat_non_streaming_fallback() {
    let server = serve(vec![json_reply(
        200,
        serde_json::json!({ "id": "x", "object": "chat.completion", "choices": [{ "index": 0, "message": { "role": "assistant", "content": "Paris [1]." }, "finish_reason": "length" }], "usage": { "prompt_tokens": 20, "completion_tokens": 3 } }),
    )]);
    let chat = OpenAiChat::new(&server.base, "m");
    let mut got = String::new();
    let g = chat
        .generate(&msgs(), &GenerateOptions::default(), &mut |p| {
            got.push_str(p);
            true
        })
        .unwrap();
    assert_eq!(g.text, "Paris [1].");
    assert_eq!(got, g.text);
    assert_eq!(g.finish_reason, "length");
    assert_eq!(g.completion_tokens, Some(3));
}

#[test]
fn http_errors_map_to_codes_without_the_key() {
    let long = "x".repeat(1000);
    let server = serve(vec![
        json_reply(500, serde_json::json!({ "error": { "message": format!("boom {long}"), "type": "server_error" } })),
        json_reply(401, serde_json::json!({ "error": { "message": format!("Incorrect API key provided: {KEY}"), "code": "invalid_api_key" } })),
        json_reply(403, serde_json::json!({ "error": "forbidden" })),
        json_reply(429, serde_json::json!({ "error": { "message": "Rate limit reached" } })),
        json_reply(404, serde_json::json!({ "error": "model 'nope' not found" })),
        json_reply(400, serde_json::json!({ "error": { "message": "max_tokens is too large" } })),
        Canned::Reply(502, "text/html", "<html>Bad gateway</html>".into()),
    ]);
    let chat = OpenAiChat::new(&server.base, "m").with_api_key(KEY);
    let run = || chat.generate(&msgs(), &GenerateOptions::default(), &mut |_| true).unwrap_err();
    let e500 = run();
    assert_eq!(e500.code(), ErrorCode::Connect);
    assert!(e500.message().contains("HTTP 500") && e500.message().contains("boom"), "{e500}");
    assert!(e500.message().len() < 500, "server message truncated: {} chars", e500.message().len());
    let e401 = run();
    assert_eq!(e401.code(), ErrorCode::Auth);
    assert!(e401.message().contains("Incorrect API key"), "{e401}");
    let e403 = run();
    assert_eq!(e403.code(), ErrorCode::Auth);
    let e429 = run();
    assert_eq!(e429.code(), ErrorCode::Connect);
    assert!(e429.message().contains("429") && e429.message().contains("Rate limit"), "{e429}");
    let e404 = run();
    assert_eq!(e404.code(), ErrorCode::NotFound);
    assert!(e404.message().contains("not found"), "{e404}");
    let e400 = run();
    assert_eq!(e400.code(), ErrorCode::InvalidArg);
    let e502 = run();
    assert_eq!(e502.code(), ErrorCode::Connect);
    for e in [&e500, &e401, &e403, &e429, &e404, &e400, &e502] {
        assert_no_key(e);
    }
}

#[test]
fn chat_bad_json_is_a_parse_error() {
    let server = serve(vec![
        Canned::Reply(200, "application/json", "{\"choices\": [".into()),
        Canned::Reply(200, "text/event-stream", "data: {\"choices\": [{\"delta\": {\"content\": \"ok\"}}]}\n\ndata: {broken\n\n".into()),
        json_reply(200, serde_json::json!({ "object": "chat.completion" })),
        json_reply(200, serde_json::json!({ "choices": [{ "message": { "role": "assistant" } }] })),
    ]);
    let chat = OpenAiChat::new(&server.base, "m").with_api_key(KEY);
    for what in ["not JSON", "not JSON", "'choices'", "message.content"] {
        let e = chat.generate(&msgs(), &GenerateOptions::default(), &mut |_| true).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Parse, "{e}");
        assert!(e.message().contains(what), "{e} should name {what}");
        assert_no_key(&e);
    }
}

#[test]
fn silent_server_times_out() {
    let server = serve(vec![Canned::Silent(Duration::from_millis(2500)), Canned::Silent(Duration::from_millis(2500))]);
    let chat = OpenAiChat { timeout: Duration::from_millis(400), ..OpenAiChat::new(&server.base, "m").with_api_key(KEY) };
    let started = std::time::Instant::now();
    let e = chat.generate(&msgs(), &GenerateOptions::default(), &mut |_| true).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Connect, "{e}");
    assert!(e.message().contains("timed out"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert_no_key(&e);
    let emb = OpenAiEmbedder { timeout: Duration::from_millis(400), ..OpenAiEmbedder::new(&server.base, "m").with_api_key(KEY) };
    let e = emb.embed(&["x"]).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Connect, "{e}");
    assert_no_key(&e);
}

#[test]
fn unreachable_server_is_a_connect_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let base = format!("http://127.0.0.1:{port}/v1");
    let e = OpenAiChat::new(&base, "m").with_api_key(KEY).generate(&msgs(), &GenerateOptions::default(), &mut |_| true).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Connect, "{e}");
    assert_no_key(&e);
    let e = OpenAiEmbedder::new(&base, "m").with_api_key(KEY).embed(&["x"]).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Connect, "{e}");
}

#[test]
fn bad_settings_are_invalid_args() {
    let e = OpenAiEmbedder::new("localhost:11434/v1", "m").embed(&["x"]).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArg);
    let e = OpenAiEmbedder::new("http://127.0.0.1:9/v1", "").embed(&["x"]).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArg);
    let chat = OpenAiChat::new("http://127.0.0.1:9/v1", "m");
    let e = chat.generate(&msgs(), &GenerateOptions { top_p: 2.0, ..Default::default() }, &mut |_| true).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArg);
    let shown = OpenAiChat::new("https://user:pw@api.example.com/v1?token=abc", "m").describe();
    assert_eq!(shown, "openai:m@https://api.example.com/v1");
}
