//! The `xml` source against documents written by quick-xml's `Writer` (and flate2 for
//! gzip); corruptions are made by editing those files.

use std::io::Write;
use std::path::{Path, PathBuf};

use hektor_adapters_api::{AdapterError, FieldMapping, Source, SourceRecord, SourceSpec};
use quick_xml::events::{BytesCData, BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use serde_json::json;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hektor-xml-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn spec(path: &Path, options: serde_json::Value, mapping: FieldMapping) -> SourceSpec {
    SourceSpec { kind: "xml".into(), location: path.to_string_lossy().into_owned(), options, mapping }
}

fn map(id: &str, text: &[&str], vector: Option<&str>, metadata: &[&str]) -> FieldMapping {
    FieldMapping {
        id: (!id.is_empty()).then(|| id.to_string()),
        text: text.iter().map(|s| s.to_string()).collect(),
        vector: vector.map(str::to_string),
        metadata: metadata.iter().map(|s| s.to_string()).collect(),
    }
}

fn drain(src: &mut dyn Source, max: usize) -> Vec<Result<SourceRecord, AdapterError>> {
    let mut out = Vec::new();
    while let Some(b) = src.next_batch(max).unwrap() {
        assert!(!b.is_empty() && b.len() <= max, "batch of {} rows with max {max}", b.len());
        out.extend(b.rows);
    }
    out
}

fn drain_until_error(src: &mut dyn Source, max: usize) -> (Vec<Result<SourceRecord, AdapterError>>, AdapterError) {
    let mut out = Vec::new();
    loop {
        match src.next_batch(max) {
            Ok(Some(b)) => out.extend(b.rows),
            Ok(None) => panic!("expected a stream error after {} rows", out.len()),
            Err(e) => return (out, e),
        }
    }
}

/// `<catalog>` with `n` `<book>`s, written by quick-xml's writer.
fn write_catalog<W: Write>(out: W, n: usize) -> W {
    let mut w = Writer::new_with_indent(out, b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None))).unwrap();
    w.write_event(Event::Comment(BytesText::new(" exported catalog "))).unwrap();
    w.write_event(Event::Start(BytesStart::new("catalog").with_attributes([("version", "2")]))).unwrap();
    // Not a record: a sibling of the books with a different name.
    w.create_element("info").write_text_content(BytesText::new("ignored")).unwrap();
    for i in 0..n {
        let id = format!("b{i}");
        let year = (1950 + i).to_string();
        w.create_element("book")
            .with_attributes([("id", id.as_str()), ("lang", "en"), ("year", "0")])
            .write_inner_content(|w| {
                w.create_element("title").write_text_content(BytesText::new(&format!("Title {i} & <friends>")))?;
                w.create_element("year").write_text_content(BytesText::new(&year))?;
                w.create_element("author").write_inner_content(|w| {
                    w.create_element("name").write_text_content(BytesText::new(&format!("Author {i}")))?;
                    w.create_element("born").write_text_content(BytesText::new("1920"))?;
                    Ok(())
                })?;
                w.create_element("tag").write_text_content(BytesText::new("sf"))?;
                if i % 2 == 0 {
                    w.create_element("tag").write_text_content(BytesText::new("classic"))?;
                }
                w.create_element("price").with_attribute(("currency", "EUR")).write_text_content(BytesText::new("9.50"))?;
                w.create_element("zip").write_text_content(BytesText::new("02134"))?;
                w.create_element("available").write_text_content(BytesText::new("true"))?;
                w.create_element("note").write_empty()?;
                w.create_element("summary").write_cdata_content(BytesCData::new(format!("<b>raw</b> summary {i}")))?;
                w.create_element("abstract").write_inner_content(|w| {
                    w.write_event(Event::Text(BytesText::new("A ")))?;
                    w.create_element("i").write_text_content(BytesText::new("very"))?;
                    w.write_event(Event::Text(BytesText::new(" good book")))?;
                    Ok(())
                })?;
                w.create_element("emb").write_text_content(BytesText::new(&format!("{} 0.25 -1", i as f32 * 0.5)))?;
                Ok(())
            })
            .unwrap();
    }
    w.write_event(Event::End(BytesEnd::new("catalog"))).unwrap();
    w.into_inner()
}

#[test]
fn catalog_records_with_all_shapes_of_fields() {
    let path = tmp("catalog.xml");
    write_catalog(std::fs::File::create(&path).unwrap(), 3);
    let size = std::fs::metadata(&path).unwrap().len();
    let m = map(
        "id",
        &["title", "summary"],
        Some("emb"),
        &["lang", "year", "author.name", "author.born", "tag", "price", "zip", "available", "note", "abstract"],
    );
    let opts = json!({ "path": "/catalog/book", "textContent": ["abstract"] });
    let mut src = hektor_source_xml::open(&spec(&path, opts, m)).unwrap();
    let rows = drain(src.as_mut(), 2);
    assert_eq!(rows.len(), 3);
    let r = rows[0].as_ref().unwrap();
    assert_eq!(r.id, "b0");
    assert_eq!(r.text.as_deref(), Some("Title 0 & <friends>\n\n<b>raw</b> summary 0"));
    assert_eq!(r.vector, Some(vec![0.0, 0.25, -1.0]));
    let md = r.metadata.as_ref().unwrap();
    assert_eq!(md["lang"], json!("en"));
    assert_eq!(md["year"], json!(1950), "a child element wins over the attribute of the same name");
    assert_eq!(md["author.name"], json!("Author 0"));
    assert_eq!(md["author.born"], json!(1920));
    assert_eq!(md["tag"], json!(["sf", "classic"]), "repeated children become an array");
    assert_eq!(md["price"], json!({ "currency": "EUR", "#text": 9.5 }));
    assert_eq!(md["zip"], json!("02134"));
    assert_eq!(md["available"], json!(true));
    assert_eq!(md["note"], json!(null));
    assert_eq!(md["abstract"], json!("A very good book"));
    assert_eq!(rows[1].as_ref().unwrap().metadata.as_ref().unwrap()["tag"], json!("sf"), "one child stays a value");
    let p = src.progress();
    assert_eq!((p.rows, p.bytes, p.total_bytes), (3, size, Some(size)));

    // Options: arrays, attribute prefix, no inference, `*` metadata.
    let opts = json!({ "path": "catalog/book", "arrays": ["tag"], "attributePrefix": "@", "inferTypes": false, "textKey": "value" });
    let mut src = hektor_source_xml::open(&spec(&path, opts, map("@id", &[], None, &["*"]))).unwrap();
    let rows = drain(src.as_mut(), 10);
    let md = rows[1].as_ref().unwrap().metadata.clone().unwrap();
    assert_eq!(md["tag"], json!(["sf"]));
    assert_eq!(md["@year"], json!("0"));
    assert_eq!(md["year"], json!("1951"));
    assert_eq!(md["price"], json!({ "@currency": "EUR", "value": "9.50" }));
    assert_eq!(md["abstract"], json!({ "i": "very", "value": "A  good book" }));
    assert_eq!(md["note"], json!(""));
    assert!(!md.contains_key("@id"));
}

#[test]
fn gzip_and_bounded_batches_over_many_records() {
    let path = tmp("many.xml.gz");
    let enc = flate2::write::GzEncoder::new(std::fs::File::create(&path).unwrap(), flate2::Compression::fast());
    write_catalog(enc, 20_000).finish().unwrap();
    let mut src =
        hektor_source_xml::open(&spec(&path, json!({ "path": "catalog/book" }), map("id", &["title"], Some("emb"), &["year"]))).unwrap();
    let mut count = 0u64;
    while let Some(b) = src.next_batch(3000).unwrap() {
        assert!(b.len() <= 3000);
        for r in &b.rows {
            assert_eq!(r.as_ref().unwrap().vector.as_ref().unwrap().len(), 3);
        }
        count += b.len() as u64;
        assert_eq!(src.progress().rows, count);
    }
    assert_eq!(count, 20_000);
    let p = src.progress();
    assert_eq!(Some(p.bytes), p.total_bytes);
}

#[test]
fn namespaces_match_by_local_name_or_by_uri() {
    const ATOM: &str = "http://www.w3.org/2005/Atom";
    let path = tmp("feed.xml");
    let mut w = Writer::new(std::fs::File::create(&path).unwrap());
    w.create_element("feed")
        .with_attributes([("xmlns", ATOM), ("xmlns:x", "urn:other"), ("xmlns:media", "http://search.yahoo.com/mrss/")])
        .write_inner_content(|w| {
            for i in 0..2 {
                w.create_element("entry").write_inner_content(|w| {
                    w.create_element("id").write_text_content(BytesText::new(&format!("urn:e{i}")))?;
                    w.create_element("title").with_attribute(("type", "text")).write_text_content(BytesText::new("Hello"))?;
                    w.create_element("media:thumbnail").with_attribute(("url", "http://x/t.png")).write_empty()?;
                    Ok(())
                })?;
            }
            w.create_element("x:entry").write_inner_content(|w| {
                w.create_element("x:id").write_text_content(BytesText::new("urn:foreign"))?;
                Ok(())
            })?;
            Ok(())
        })
        .unwrap();
    drop(w);
    let m = map("id", &["title.#text"], None, &["thumbnail.url"]);
    let mut src = hektor_source_xml::open(&spec(&path, json!({ "path": "feed/entry" }), m.clone())).unwrap();
    let ids: Vec<String> = drain(src.as_mut(), 10).into_iter().map(|r| r.unwrap().id).collect();
    assert_eq!(ids, ["urn:e0", "urn:e1", "urn:foreign"], "local names match whatever the namespace");

    let opts = json!({ "path": "a:feed/a:entry", "namespaces": { "a": ATOM } });
    let mut src = hektor_source_xml::open(&spec(&path, opts, m)).unwrap();
    let rows = drain(src.as_mut(), 10);
    assert_eq!(rows.len(), 2, "the urn:other entry is not an Atom entry");
    let r = rows[1].as_ref().unwrap();
    assert_eq!((r.id.as_str(), r.text.as_deref()), ("urn:e1", Some("Hello")));
    assert_eq!(r.metadata.as_ref().unwrap()["thumbnail.url"], json!("http://x/t.png"));

    let e = hektor_source_xml::open(&spec(&path, json!({ "path": "b:feed", "namespaces": { "a": ATOM } }), FieldMapping::default()))
        .err()
        .unwrap();
    assert_eq!(e.code.as_str(), "ERR_INVALID_ARG");
}

#[test]
fn dtd_entities_are_never_expanded() {
    let path = tmp("laughs.xml");
    let mut w = Writer::new(std::fs::File::create(&path).unwrap());
    let dtd = r#"lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]"#;
    w.write_event(Event::DocType(BytesText::from_escaped(dtd))).unwrap();
    w.create_element("lolz")
        .write_inner_content(|w| {
            w.create_element("item").with_attribute(("id", "1")).write_text_content(BytesText::from_escaped("fine &#x263A; &amp; more"))?;
            w.create_element("item").with_attribute(("id", "2")).write_inner_content(|w| {
                w.create_element("body")
                    .write_inner_content(|w| w.write_event(Event::GeneralRef(quick_xml::events::BytesRef::new("lol3"))))?;
                Ok(())
            })?;
            w.create_element("item").with_attribute(("id", "3")).write_text_content(BytesText::new("after"))?;
            Ok(())
        })
        .unwrap();
    drop(w);
    let text = std::fs::read_to_string(&path).unwrap();
    let entity_at = text.find("&lol3;").unwrap() as u64;
    let mut src = hektor_source_xml::open(&spec(&path, json!({ "path": "lolz/item" }), map("id", &["#text"], None, &[]))).unwrap();
    let rows = drain(src.as_mut(), 10);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].as_ref().unwrap().text.as_deref(), Some("fine \u{263a} & more"));
    let e = rows[1].as_ref().unwrap_err();
    assert_eq!((e.code.as_str(), e.position.row, e.position.byte), ("ERR_PARSE", Some(1), Some(entity_at)));
    assert_eq!(e.position.field.as_deref(), Some("body"));
    assert!(e.message.contains("undefined entity '&lol3;'"), "{}", e.message);
    assert_eq!(rows[2].as_ref().unwrap().id, "3");
}

#[test]
fn truncated_and_mismatched_documents_end_the_stream() {
    let path = tmp("cut.xml");
    let full = write_catalog(Vec::new(), 10);
    let text = String::from_utf8(full).unwrap();
    let cut = text.match_indices("<book").nth(7).unwrap().0 + 120;
    std::fs::write(&path, &text[..cut]).unwrap();
    let mut src = hektor_source_xml::open(&spec(&path, json!({ "path": "catalog/book" }), map("id", &[], None, &[]))).unwrap();
    let (rows, e) = drain_until_error(src.as_mut(), 4);
    assert_eq!(rows.len(), 7);
    assert_eq!((e.code.as_str(), e.position.row), ("ERR_PARSE", Some(7)));
    assert!(e.position.byte.unwrap() <= cut as u64);
    assert!(src.next_batch(4).unwrap().is_none());

    let bad = text.replacen("</author>", "</writer>", 3);
    std::fs::write(&path, &bad).unwrap();
    let third = bad.match_indices("</writer>").nth(2).unwrap().0 as u64;
    let mut src = hektor_source_xml::open(&spec(&path, json!({ "path": "catalog/book" }), map("id", &[], None, &[]))).unwrap();
    let e = src.next_batch(4).unwrap_err();
    assert_eq!((e.code.as_str(), e.position.row), ("ERR_PARSE", Some(0)));
    assert!(e.message.contains("writer") && e.position.byte.unwrap() < third, "{e}");
}

#[test]
fn limits_on_depth_and_record_size() {
    let path = tmp("deep.xml");
    let mut w = Writer::new(std::fs::File::create(&path).unwrap());
    w.write_event(Event::Start(BytesStart::new("root"))).unwrap();
    w.write_event(Event::Start(BytesStart::new("rec"))).unwrap();
    for _ in 0..300 {
        w.write_event(Event::Start(BytesStart::new("d"))).unwrap();
    }
    for _ in 0..300 {
        w.write_event(Event::End(BytesEnd::new("d"))).unwrap();
    }
    w.write_event(Event::End(BytesEnd::new("rec"))).unwrap();
    w.write_event(Event::End(BytesEnd::new("root"))).unwrap();
    drop(w);
    let mut src = hektor_source_xml::open(&spec(&path, json!({ "path": "root/rec" }), FieldMapping::default())).unwrap();
    let e = src.next_batch(10).unwrap_err();
    assert_eq!((e.code.as_str(), e.position.row), ("ERR_LIMIT", Some(0)));
    let mut src = hektor_source_xml::open(&spec(&path, json!({ "path": "root/rec", "maxDepth": 400 }), FieldMapping::default())).unwrap();
    assert_eq!(drain(src.as_mut(), 10).len(), 1);

    let big = tmp("big.xml");
    let mut w = Writer::new(std::fs::File::create(&big).unwrap());
    w.create_element("r")
        .write_inner_content(|w| {
            w.create_element("x").write_text_content(BytesText::new("small"))?;
            w.create_element("x").write_text_content(BytesText::new(&"y".repeat(500_000)))?;
            Ok(())
        })
        .unwrap();
    drop(w);
    let mut src = hektor_source_xml::open(&spec(&big, json!({ "path": "r/x", "maxRecordBytes": 65536 }), FieldMapping::default())).unwrap();
    let (rows, e) = drain_until_error(src.as_mut(), 10);
    assert_eq!(rows.len(), 1);
    assert_eq!((e.code.as_str(), e.position.row), ("ERR_LIMIT", Some(1)));
}

#[test]
fn bad_options_files_encodings_and_values() {
    let path = tmp("small.xml");
    write_catalog(std::fs::File::create(&path).unwrap(), 2);
    let open_err = |opts: serde_json::Value| hektor_source_xml::open(&spec(&path, opts, FieldMapping::default())).err().unwrap();
    assert_eq!(open_err(json!({})).code.as_str(), "ERR_INVALID_ARG", "path is required");
    assert_eq!(open_err(json!({ "path": "catalog/book", "attrPrefix": "@" })).code.as_str(), "ERR_INVALID_ARG");
    assert_eq!(open_err(json!({ "path": "" })).code.as_str(), "ERR_INVALID_ARG");
    let e = hektor_source_xml::open(&spec(&tmp("none.xml"), json!({ "path": "a" }), FieldMapping::default())).err().unwrap();
    assert_eq!(e.code.as_str(), "ERR_NOT_FOUND");

    // A vector element that is not a number is a row error on the field.
    let text = std::fs::read_to_string(&path).unwrap().replacen("0.25", "0.2x", 2);
    std::fs::write(&path, &text).unwrap();
    let mut src = hektor_source_xml::open(&spec(&path, json!({ "path": "catalog/book" }), map("id", &[], Some("emb"), &[]))).unwrap();
    let rows = drain(src.as_mut(), 10);
    let e = rows[1].as_ref().unwrap_err();
    assert_eq!((e.code.as_str(), e.position.row, e.position.field.as_deref()), ("ERR_INVALID_ARG", Some(1), Some("emb")));
    assert!(e.message.contains("element 1 ('0.2x')"), "{}", e.message);

    // Declared Latin-1: refused clearly; a stray non-UTF-8 byte: a parse error with its byte.
    let latin = tmp("latin.xml");
    std::fs::write(&latin, b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a><b>x</b></a>").unwrap();
    let mut src = hektor_source_xml::open(&spec(&latin, json!({ "path": "a/b" }), FieldMapping::default())).unwrap();
    let e = src.next_batch(10).unwrap_err();
    assert_eq!(e.code.as_str(), "ERR_INVALID_ARG");
    assert!(e.message.contains("ISO-8859-1"));
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.windows(8).position(|w| w == b"Author 1").unwrap() + 2;
    bytes[at] = 0xff;
    std::fs::write(&latin, &bytes).unwrap();
    let mut src = hektor_source_xml::open(&spec(&latin, json!({ "path": "catalog/book" }), map("id", &[], None, &[]))).unwrap();
    let (rows, e) = drain_until_error(src.as_mut(), 10);
    assert_eq!(rows.len(), 1);
    assert_eq!((e.code.as_str(), e.position.row), ("ERR_PARSE", Some(1)));
    let byte = e.position.byte.unwrap() as usize;
    assert_eq!(byte, at, "error at the bad byte");
}

#[test]
fn a_path_that_matches_nothing_is_not_found() {
    let dir = std::env::temp_dir().join(format!("hk-xml-nf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("c.xml");
    std::fs::write(&f, "<catalog><book><t>a</t></book><magazine/></catalog>").unwrap();
    let spec = |path: &str| hektor_adapters_api::SourceSpec {
        kind: "xml".into(),
        location: f.display().to_string(),
        options: serde_json::json!({ "path": path }),
        mapping: Default::default(),
    };
    let mut src = hektor_source_xml::open(&spec("catalog/books")).unwrap();
    let e = src.next_batch(10).unwrap_err();
    assert_eq!(e.code.as_str(), "ERR_NOT_FOUND");
    assert!(e.message.contains("'catalog' exists") && e.message.contains("book") && e.message.contains("magazine"), "{}", e.message);
    let mut src = hektor_source_xml::open(&spec("shop/book")).unwrap();
    assert!(src.next_batch(10).unwrap_err().message.contains("root element is catalog"));
    // an existing but empty record set is fine
    std::fs::write(&f, "<catalog></catalog>").unwrap();
    let mut src = hektor_source_xml::open(&spec("catalog/book")).unwrap();
    assert!(src.next_batch(10).unwrap().is_none());
}
