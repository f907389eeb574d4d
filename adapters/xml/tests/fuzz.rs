//! Hostile input for the `xml` source: property tests over mutated valid documents (seeded
//! like `tests/xml.rs`) and arbitrary bytes, plus regression tests for deep nesting,
//! billion laughs, huge text and a gzip bomb. Every input must give records or hektor
//! errors: no panic, no stack overflow, no entity expansion, no unbounded memory.

#[path = "../../api/tests/fuzz_support/mod.rs"]
mod support;

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use hektor_adapters_api::{AdapterErrorCode, FieldMapping, SourceSpec};
use proptest::prelude::*;
use serde_json::{json, Value};
use support::*;

#[global_allocator]
static ALLOC: Counting = Counting;

const SEEDS: &[(&str, &str)] = &[
    (
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- exported catalog -->
<catalog version="2">
  <info>ignored</info>
  <book id="b0" lang="en">
    <title>First &amp; &#x263A; <![CDATA[<raw>]]></title>
    <price currency="EUR">9.50</price>
    <emb>0.5 1.5 -2</emb>
    <tag>a</tag><tag>b</tag>
    <abstract>A <i>very</i> good book</abstract>
    <year/>
  </book>
  <book id="b1"><title>Second</title><emb>[1, 2]</emb><?pi data?></book>
</catalog>"#,
        "/catalog/book",
    ),
    (
        r#"<a:feed xmlns:a="http://www.w3.org/2005/Atom" xmlns="urn:x"><a:entry><a:id>1</a:id><a:title type="text">T</a:title></a:entry><a:entry id="2"/></a:feed>"#,
        "a:feed/a:entry",
    ),
    (
        r#"<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;">]><lolz><item id="1">fine &#9786; &amp;</item><item id="2"><body>&lol1;</body></item></lolz>"#,
        "lolz/item",
    ),
];

fn options(path: &str, variant: usize) -> Value {
    let mut o = json!({ "path": path, "namespaces": { "a": "http://www.w3.org/2005/Atom" } });
    match variant {
        1 => {
            o["textContent"] = json!(["abstract"]);
            o["arrays"] = json!(["tag"]);
            o["maxDepth"] = json!(4);
        }
        2 => {
            o["attributePrefix"] = json!("@");
            o["inferTypes"] = json!(false);
            o["maxRecordBytes"] = json!(200);
        }
        _ => {}
    }
    o
}

fn mapping() -> FieldMapping {
    FieldMapping { id: Some("id".into()), text: vec!["title".into()], vector: Some("emb".into()), metadata: vec!["*".into()] }
}

fn read(dir: &TempDir, bytes: &[u8], options: Value, name: &str) -> Outcome {
    let path = dir.write(name, bytes);
    let spec = SourceSpec { kind: "xml".into(), location: loc(&path), options, mapping: mapping() };
    let out = drain(|| hektor_source_xml::open(&spec), 3, 100_000);
    let _ = std::fs::remove_file(&path);
    out
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn mutated_documents(seed in 0..SEEDS.len(), variant in 0..3usize, edits in edits(8)) {
        let dir = TempDir::new("xml");
        let (text, path) = SEEDS[seed];
        read(&dir, &mutate(text.as_bytes(), &edits), options(path, variant), "m.xml");
    }

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let dir = TempDir::new("xml-any");
        read(&dir, &bytes, options("a/b", 0), "a.xml");
    }

    /// Markup characters in any order.
    #[test]
    fn markup_soup(text in "(<a>|</a>|<b x=\"1\">|</b>|<b/>|&amp;|&#x41;|&x;|<!\\[CDATA\\[|\\]\\]>|<!--|-->|<\\?p|\\?>|<!DOCTYPE a>|[<>&;\"'= a1])*") {
        let dir = TempDir::new("xml-soup");
        read(&dir, text.as_bytes(), options("a/b", 0), "s.xml");
    }

    /// A valid document cut inside its root element is an error.
    #[test]
    fn truncated_documents_are_errors(seed in 0..SEEDS.len(), cut in any::<usize>()) {
        let dir = TempDir::new("xml-cut");
        let (text, path) = SEEDS[seed];
        let text = text.trim_end();
        // cut before the last '<' (the root's end tag): the root stays open
        let root_end = text.rfind('<').unwrap();
        let cut = cut % root_end;
        let out = read(&dir, &text.as_bytes()[..cut], options(path, 0), "t.xml");
        prop_assert!(out.failed(), "cut at {cut}: {out:?}");
    }
}

#[test]
fn nesting_100k_deep_is_err_limit() {
    let _x = exclusive();
    let dir = TempDir::new("xml-deep");
    for (doc, path) in [
        (format!("<r><rec>{}{}</rec></r>", "<a>".repeat(100_000), "</a>".repeat(100_000)), "r/rec"),
        (format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000)), "a/b"),
        (format!("<r><rec>{}</rec></r>", "<a>".repeat(100_000)), "r/rec"),
    ] {
        let (out, peak) = heap_peak(|| read(&dir, doc.as_bytes(), options(path, 0), "d.xml"));
        let e = out.end.expect("an error");
        assert_eq!(e.code, AdapterErrorCode::Limit, "{e}");
        assert!(peak < 16 * MIB, "heap peak {peak}");
    }
}

#[test]
fn billion_laughs_is_not_expanded() {
    let _x = exclusive();
    let dir = TempDir::new("xml-lol");
    let mut doc = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    for i in 1..=9 {
        let prev = if i == 1 { "lol".to_string() } else { format!("lol{}", i - 1) };
        doc.push_str(&format!(" <!ENTITY lol{i} \"{}\">\n", format!("&{prev};").repeat(10)));
    }
    doc.push_str("]>\n<lolz><item id=\"1\"><title>&lol9;</title></item><item id=\"2\" title=\"&lol9;\"/><item id=\"3\"><title>ok</title></item></lolz>");
    let (out, peak) = heap_peak(|| read(&dir, doc.as_bytes(), options("lolz/item", 0), "lol.xml"));
    assert_eq!((out.ok, out.row_errors.len(), out.end.as_ref().map(|e| e.code)), (1, 2, None), "{out:?}");
    for e in &out.row_errors {
        assert_eq!(e.code, AdapterErrorCode::Parse);
        assert!(e.message.contains("lol9"), "{e}");
    }
    eprintln!("xml billion laughs: {} row errors ({}), heap peak {} KiB", out.row_errors.len(), out.row_errors[0].message, peak >> 10);
    assert!(peak < 4 * MIB, "heap peak {peak}");
}

#[test]
fn a_64_mib_text_or_attribute_is_err_limit() {
    let _x = exclusive();
    let dir = TempDir::new("xml-huge");
    let big = "x".repeat(64 << 20);
    for doc in [
        format!("<r><rec id=\"1\"/><rec id=\"2\"><title>{big}</title></rec></r>"),
        format!("<r><rec id=\"1\"/><rec id=\"2\" title=\"{big}\"/></r>"),
        format!("<r><rec id=\"1\"/><!--{big}--><rec id=\"2\"/></r>"),
    ] {
        let (out, peak) = heap_peak(|| read(&dir, doc.as_bytes(), options("r/rec", 0), "h.xml"));
        let e = out.end.expect("an error");
        assert_eq!((out.ok, e.code), (1, AdapterErrorCode::Limit), "{e}");
        eprintln!("xml 64 MiB text: {e}; heap peak {} MiB", peak / MIB);
        assert!(peak < 96 * MIB, "heap peak {peak}");
    }
}

#[test]
fn gzip_bomb_stops_at_the_record_limit() {
    let _x = exclusive();
    let dir = TempDir::new("xml-bomb");
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(b"<r><rec id=\"1\"/><rec id=\"2\"><title>").unwrap();
    let mut bytes = e.finish().unwrap();
    let chunk = vec![b'a'; 1 << 20];
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    for _ in 0..64 {
        e.write_all(&chunk).unwrap();
    }
    let member = e.finish().unwrap();
    for _ in 0..32 {
        bytes.extend_from_slice(&member);
    }
    let path = dir.write("bomb.xml.gz", &bytes);
    let spec = SourceSpec { kind: "xml".into(), location: loc(&path), options: options("r/rec", 0), mapping: FieldMapping::default() };
    let (out, peak) = heap_peak(|| drain(|| hektor_source_xml::open(&spec), 100, 1000));
    let e = out.end.expect("an error");
    assert_eq!((out.ok, e.code), (1, AdapterErrorCode::Limit), "{e}");
    eprintln!("xml gzip bomb (2 GiB of text): {e}; heap peak {} MiB", peak / MIB);
    assert!(peak < 96 * MIB, "heap peak {peak}");
}
