use super::*;

fn enc(r: &KvldsRequest) -> Vec<u8> {
    let mut v = Vec::new();
    r.encode(&mut v).unwrap();
    v
}

fn enc_resp(r: &KvldsResponse) -> Vec<u8> {
    let mut v = Vec::new();
    r.encode(&mut v).unwrap();
    v
}

/// Concatenate byte pieces.
fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn request_layouts() {
    assert_eq!(enc(&KvldsRequest::Params), [0, 0, 1, 0]);
    assert_eq!(
        enc(&KvldsRequest::Set {
            key: b"k",
            value: b"vv"
        }),
        cat(&[&[0, 0, 1, 0x10], &[1], b"k", &[2], b"vv"])
    );
    assert_eq!(
        enc(&KvldsRequest::Cas {
            key: b"k",
            oval: b"o",
            value: b""
        }),
        cat(&[&[0, 0, 1, 0x11], &[1], b"k", &[1], b"o", &[0]])
    );
    assert_eq!(
        enc(&KvldsRequest::Add {
            key: b"",
            value: b"v"
        }),
        cat(&[&[0, 0, 1, 0x12], &[0], &[1], b"v"])
    );
    assert_eq!(
        enc(&KvldsRequest::Modify {
            key: b"ab",
            value: b"c"
        }),
        cat(&[&[0, 0, 1, 0x13], &[2], b"ab", &[1], b"c"])
    );
    assert_eq!(
        enc(&KvldsRequest::Delete { key: b"x" }),
        cat(&[&[0, 0, 1, 0x20], &[1], b"x"])
    );
    assert_eq!(
        enc(&KvldsRequest::Cad {
            key: b"x",
            oval: b"yz"
        }),
        cat(&[&[0, 0, 1, 0x21], &[1], b"x", &[2], b"yz"])
    );
    assert_eq!(
        enc(&KvldsRequest::Get { key: b"key" }),
        cat(&[&[0, 0, 1, 0x30], &[3], b"key"])
    );
    assert_eq!(
        enc(&KvldsRequest::Range {
            max: 1 << 20,
            start: b"a",
            end: b""
        }),
        cat(&[&[0, 0, 1, 0x31], &[0, 0x10, 0, 0], &[1], b"a", &[0]])
    );
}

fn all_requests<'a>(k: &'a [u8], v: &'a [u8]) -> Vec<KvldsRequest<'a>> {
    vec![
        KvldsRequest::Params,
        KvldsRequest::Set { key: k, value: v },
        KvldsRequest::Cas {
            key: k,
            oval: v,
            value: k,
        },
        KvldsRequest::Add { key: k, value: v },
        KvldsRequest::Modify { key: k, value: v },
        KvldsRequest::Delete { key: k },
        KvldsRequest::Cad { key: k, oval: v },
        KvldsRequest::Get { key: k },
        KvldsRequest::Range {
            max: 77,
            start: k,
            end: v,
        },
    ]
}

#[test]
fn requests_round_trip_including_empty_and_maximal_strings() {
    let long = [0xA5u8; 255];
    for (k, v) in [
        (&b""[..], &b""[..]),
        (&long[..], &long[..]),
        (b"key", b"value"),
    ] {
        for req in all_requests(k, v) {
            let rec = enc(&req);
            assert!(rec.len() <= MAX_REQUEST_RECORD);
            assert_eq!(KvldsRequest::decode(&rec).unwrap(), req);
            assert_eq!(KvldsRequestKind::of_record(&rec).unwrap(), req.kind());
        }
    }
    // CAS with three maximal strings is the largest request there is.
    let cas = enc(&KvldsRequest::Cas {
        key: &long,
        oval: &long,
        value: &long,
    });
    assert_eq!(cas.len(), MAX_REQUEST_RECORD);
}

#[test]
fn malformed_requests_are_rejected() {
    assert_eq!(
        KvldsRequest::decode(&[0, 0, 1, 0x40]),
        Err(DecodeError::UnknownType(0x140))
    );
    assert_eq!(
        KvldsRequest::decode(&[0, 0, 1]),
        Err(DecodeError::Truncated)
    );
    assert_eq!(
        KvldsRequest::decode(&[0, 0, 1, 0, 0]),
        Err(DecodeError::TrailingBytes(1))
    );
    // A length byte that runs past the end.
    assert_eq!(
        KvldsRequest::decode(&cat(&[&[0, 0, 1, 0x30], &[4], b"abc"])),
        Err(DecodeError::Truncated)
    );
    // Trailing bytes after a well-formed GET.
    assert_eq!(
        KvldsRequest::decode(&cat(&[&[0, 0, 1, 0x30], &[1], b"ab"])),
        Err(DecodeError::TrailingBytes(1))
    );
    // Every truncation of every request fails.
    for req in all_requests(b"key", b"value") {
        let rec = enc(&req);
        for n in 0..rec.len() {
            assert!(
                KvldsRequest::decode(&rec[..n]).is_err(),
                "{req:?} cut at {n}"
            );
        }
    }
}

#[test]
fn over_long_strings_cannot_be_encoded() {
    let long = [0u8; 256];
    let mut out = vec![1, 2, 3];
    for req in all_requests(&long, b"v") {
        if req == KvldsRequest::Params {
            continue;
        }
        assert_eq!(req.encode(&mut out), Err(EncodeError::TooLong(256)));
        assert_eq!(out, [1, 2, 3], "failed encode must not write");
    }
}

#[test]
fn length_limits_apply_to_stored_values_only() {
    let k = [0u8; 10];
    let v = [0u8; 20];
    let set = KvldsRequest::Set { key: &k, value: &v };
    assert!(!set.exceeds_limits(10, 20));
    assert!(set.exceeds_limits(9, 20));
    assert!(set.exceeds_limits(10, 19));
    // CAS: the old value is not checked, the new one is.
    let cas = KvldsRequest::Cas {
        key: &k,
        oval: &v,
        value: &k,
    };
    assert!(!cas.exceeds_limits(10, 10));
    // Reads and deletes never exceed.
    assert!(!KvldsRequest::Get { key: &v }.exceeds_limits(1, 1));
    assert!(!KvldsRequest::Delete { key: &v }.exceeds_limits(1, 1));
    assert!(!KvldsRequest::Cad { key: &v, oval: &v }.exceeds_limits(1, 1));
}

#[test]
fn response_layouts() {
    // Probed upstream: PARAMS at B = 1024 answers (128, 192).
    assert_eq!(
        enc_resp(&KvldsResponse::Params {
            kmax: 128,
            vmax: 192
        }),
        [0, 0, 0, 128, 0, 0, 0, 192]
    );
    assert_eq!(enc_resp(&KvldsResponse::Status(0)), [0, 0, 0, 0]);
    assert_eq!(enc_resp(&KvldsResponse::Status(1)), [0, 0, 0, 1]);
    assert_eq!(enc_resp(&KvldsResponse::Get(None)), [0, 0, 0, 1]);
    assert_eq!(
        enc_resp(&KvldsResponse::Get(Some(b"val"))),
        cat(&[&[0, 0, 0, 0], &[3], b"val"])
    );
    assert_eq!(enc_resp(&KvldsResponse::Get(Some(b""))), [0, 0, 0, 0, 0]);
    let mut r = Vec::new();
    encode_range_response(&mut r, b"n", [(&b"a"[..], &b"1"[..]), (b"bb", b"")]).unwrap();
    assert_eq!(
        r,
        cat(&[
            &[0, 0, 0, 0],
            &[0, 0, 0, 2],
            &[1],
            b"n",
            &[1],
            b"a",
            &[1],
            b"1",
            &[2],
            b"bb",
            &[0]
        ])
    );
}

#[test]
fn responses_round_trip() {
    for kind in KvldsRequestKind::ALL {
        let resps = match kind {
            KvldsRequestKind::Params => vec![KvldsResponse::Params { kmax: 255, vmax: 7 }],
            KvldsRequestKind::Get => vec![
                KvldsResponse::Get(None),
                KvldsResponse::Get(Some(b"")),
                KvldsResponse::Get(Some(&[0xFF; 255])),
            ],
            KvldsRequestKind::Range => continue,
            _ => vec![KvldsResponse::Status(0), KvldsResponse::Status(1)],
        };
        for resp in resps {
            let rec = enc_resp(&resp);
            assert_eq!(KvldsResponse::decode(kind, &rec).unwrap(), resp, "{kind:?}");
        }
    }
}

#[test]
fn range_responses_round_trip_and_iterate() {
    let keys: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i; i as usize]).collect();
    let pairs: Vec<(&[u8], &[u8])> = keys.iter().map(|k| (&k[..], &k[..k.len() / 2])).collect();
    for n in [0, 1, 50] {
        let mut rec = Vec::new();
        encode_range_response(&mut rec, b"next", pairs[..n].iter().copied()).unwrap();
        let KvldsResponse::Range(rr) =
            KvldsResponse::decode(KvldsRequestKind::Range, &rec).unwrap()
        else {
            panic!("not a range response");
        };
        assert_eq!(rr.next, b"next");
        assert_eq!(rr.len(), n);
        assert_eq!(rr.is_empty(), n == 0);
        assert_eq!(rr.pairs().collect::<Vec<_>>(), pairs[..n]);
        // Re-encoding the decoded answer gives the same bytes.
        assert_eq!(enc_resp(&KvldsResponse::Range(rr)), rec);
        // Every truncation is refused.
        for cut in 0..rec.len() {
            assert!(KvldsResponse::decode(KvldsRequestKind::Range, &rec[..cut]).is_err());
        }
    }
    assert_eq!(range_pair_size(b"abc", b"de"), 7);
}

#[test]
fn malformed_responses_are_rejected() {
    use KvldsRequestKind as K;
    assert_eq!(
        KvldsResponse::decode(K::Set, &[0, 0, 0, 2]),
        Err(DecodeError::BadStatus(2))
    );
    assert_eq!(
        KvldsResponse::decode(K::Get, &[0, 0, 0, 2]),
        Err(DecodeError::BadStatus(2))
    );
    assert_eq!(
        KvldsResponse::decode(K::Get, &[0, 0, 0, 0, 3, b'a']),
        Err(DecodeError::Truncated)
    );
    assert_eq!(
        KvldsResponse::decode(K::Get, &[0, 0, 0, 1, 0]),
        Err(DecodeError::TrailingBytes(1))
    );
    assert_eq!(
        KvldsResponse::decode(K::Params, &[0, 0, 0, 1]),
        Err(DecodeError::Truncated)
    );
    // A RANGE answer with more bytes than its count says.
    let mut rec = Vec::new();
    encode_range_response(&mut rec, b"", [(&b"a"[..], &b"b"[..])]).unwrap();
    rec.push(0);
    assert_eq!(
        KvldsResponse::decode(K::Range, &rec),
        Err(DecodeError::TrailingBytes(1))
    );
    // A RANGE answer whose count is larger than its pairs.
    rec.pop();
    rec[7] = 2;
    assert_eq!(
        KvldsResponse::decode(K::Range, &rec),
        Err(DecodeError::Truncated)
    );
}

#[test]
fn over_long_range_pair_leaves_output_untouched() {
    let long = [0u8; 300];
    let mut out = vec![9];
    let r = encode_range_response(
        &mut out,
        b"",
        [(&b"a"[..], &b"b"[..]), (&long[..], &b""[..])],
    );
    assert_eq!(r, Err(EncodeError::TooLong(300)));
    assert_eq!(out, [9]);
}

#[test]
fn kinds_opcodes_and_names() {
    for k in KvldsRequestKind::ALL {
        assert_eq!(KvldsRequestKind::from_opcode(k.opcode()), Some(k));
        assert!(k.name().starts_with("KVLDS_"));
    }
    let modifying: Vec<_> = KvldsRequestKind::ALL
        .into_iter()
        .filter(|k| k.is_modifying())
        .collect();
    assert_eq!(
        modifying,
        [
            KvldsRequestKind::Set,
            KvldsRequestKind::Cas,
            KvldsRequestKind::Add,
            KvldsRequestKind::Modify,
            KvldsRequestKind::Delete,
            KvldsRequestKind::Cad
        ]
    );
    assert_eq!(KvldsRequestKind::from_opcode(0x132), None);
}
