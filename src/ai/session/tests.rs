use super::*;
use serde_json::json;

fn store() -> (tempfile::TempDir, SessionStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SessionStore::open(dir.path()).unwrap();
    (dir, store)
}

fn proposal(id: &str) -> ProposalEntry {
    ProposalEntry {
        id: id.parse().unwrap(),
        call: json!({"method": "rollback", "params": {"plugin": "checkout"}}),
        preview: vec![
            "checkout: 1.2.4 → 1.2.3".into(),
            "traffic 100 % to blue".into(),
        ],
        argument_hash: "sha256:abc".into(),
        status: ProposalStatus::Waiting,
        outcome: None,
        decided: None,
    }
}

fn tool_call() -> ToolCallEntry {
    ToolCallEntry {
        id: "call_1".into(),
        name: "status".into(),
        arguments: json!({"plugin": "checkout"}),
        effect: ToolEffect::Read,
        result: "checkout 1.2.4 healthy; token [redacted:API_TOKEN]".into(),
        truncated: true,
    }
}

#[test]
fn a_session_round_trips_in_order() {
    let (_dir, store) = store();
    let id = store
        .create(Face::Dashboard, "openai", "gpt-4o-mini")
        .unwrap();
    let entries = vec![
        SessionEntry::User {
            text: "\n  is checkout healthy?\nsecond line".into(),
        },
        SessionEntry::ToolCall(tool_call()),
        SessionEntry::Assistant {
            text: "It is. Roll back anyway?".into(),
        },
        SessionEntry::Proposal(proposal("p-one")),
        SessionEntry::Usage(TurnUsage {
            input_tokens: 120,
            output_tokens: 30,
            cost_usd: Some(0.5),
        }),
        SessionEntry::Usage(TurnUsage {
            input_tokens: 80,
            output_tokens: 10,
            cost_usd: None,
        }),
        SessionEntry::Usage(TurnUsage {
            input_tokens: 0,
            output_tokens: 0,
            cost_usd: Some(0.25),
        }),
        SessionEntry::User {
            text: "another request".into(),
        },
    ];
    for (i, entry) in entries.iter().enumerate() {
        assert_eq!(store.append(id, entry).unwrap(), i as u64 + 1);
    }
    let session = store.load(id).unwrap();
    let loaded: Vec<SessionEntry> = session.entries.iter().map(|e| e.entry.clone()).collect();
    assert_eq!(loaded, entries);
    let seqs: Vec<u64> = session.entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=8).collect::<Vec<_>>());
    let s = &session.summary;
    assert_eq!(s.id, id);
    assert_eq!(s.face, Face::Dashboard);
    assert_eq!(
        (s.provider.as_str(), s.model.as_str()),
        ("openai", "gpt-4o-mini")
    );
    assert_eq!(s.title.as_deref(), Some("is checkout healthy?"));
    assert_eq!((s.input_tokens, s.output_tokens), (200, 40));
    assert_eq!(s.cost_usd, Some(0.75));
    assert_eq!(s.entries, 8);
    assert!(s.updated >= s.created);
}

#[test]
fn titles_are_cut_and_costs_stay_unknown_until_known() {
    let (_dir, store) = store();
    let id = store.create(Face::Cli, "offline", "intent-router").unwrap();
    let long =
        "roll back checkout because the canary is failing with many errors right now, please";
    store
        .append(id, &SessionEntry::User { text: long.into() })
        .unwrap();
    store
        .append(id, &SessionEntry::Usage(TurnUsage::default()))
        .unwrap();
    let s = store.load(id).unwrap().summary;
    let title = s.title.unwrap();
    assert!(title.chars().count() <= TITLE_CHARS, "{title}");
    assert!(title.ends_with('…') && long.starts_with(title.trim_end_matches('…')));
    assert_eq!(s.cost_usd, None);
    // An empty session has no title.
    let empty = store.create(Face::Cli, "offline", "intent-router").unwrap();
    assert_eq!(store.load(empty).unwrap().summary.title, None);
}

#[test]
fn proposals_move_through_their_statuses_once() {
    let (_dir, store) = store();
    let id = store.create(Face::Ai, "anthropic", "claude").unwrap();
    store
        .append(id, &SessionEntry::Proposal(proposal("p-two")))
        .unwrap();
    let pid: ProposalId = "p-two".parse().unwrap();
    let yes = Decision {
        face: Face::Dashboard,
        by: "alice".into(),
        confirmed: None,
    };
    let approved = store
        .set_proposal_status(&pid, ProposalStatus::Approved, None, Some(&yes))
        .unwrap();
    assert_eq!(approved.proposal.status, ProposalStatus::Approved);
    let decided = approved.proposal.decided.clone().unwrap();
    assert_eq!(
        (decided.face, decided.by.as_str()),
        (Face::Dashboard, "alice")
    );
    // A second yes (say, from `naap approve` at the same time) is refused.
    let again = store
        .set_proposal_status(&pid, ProposalStatus::Approved, None, Some(&yes))
        .unwrap_err();
    assert!(
        matches!(
            again,
            SessionError::Transition {
                from: ProposalStatus::Approved,
                ..
            }
        ),
        "{again}"
    );
    let ran = store
        .set_proposal_status(
            &pid,
            ProposalStatus::Ran,
            Some("rolled back to 1.2.3"),
            None,
        )
        .unwrap();
    assert_eq!(
        ran.proposal.outcome.as_deref(),
        Some("rolled back to 1.2.3")
    );
    assert_eq!(ran.proposal.decided, Some(decided), "the decision stays");
    let err = store
        .set_proposal_status(&pid, ProposalStatus::Rejected, None, None)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("p-two is ran, so it cannot become rejected"),
        "{err}"
    );
    let missing = store
        .set_proposal_status(
            &"p-none".parse().unwrap(),
            ProposalStatus::Approved,
            None,
            None,
        )
        .unwrap_err();
    assert!(
        matches!(missing, SessionError::NoProposal { .. }),
        "{missing}"
    );
    // The transcript shows the current status.
    let session = store.load(id).unwrap();
    let SessionEntry::Proposal(p) = &session.entries[0].entry else {
        panic!("{session:?}")
    };
    assert_eq!(p.status, ProposalStatus::Ran);
    assert_eq!(store.proposal(&pid).unwrap().proposal, *p);
}

#[test]
fn pending_proposals_span_sessions_oldest_first() {
    let (_dir, store) = store();
    let a = store.create(Face::Mcp, "openai", "m").unwrap();
    let b = store.create(Face::Cli, "openai", "m").unwrap();
    store
        .append(a, &SessionEntry::Proposal(proposal("p-a1")))
        .unwrap();
    store
        .append(b, &SessionEntry::Proposal(proposal("p-b1")))
        .unwrap();
    store
        .append(a, &SessionEntry::Proposal(proposal("p-a2")))
        .unwrap();
    store
        .set_proposal_status(
            &"p-b1".parse().unwrap(),
            ProposalStatus::Rejected,
            None,
            None,
        )
        .unwrap();
    let pending = store.pending_proposals().unwrap();
    let ids: Vec<(&str, SessionId)> = pending
        .iter()
        .map(|r| (r.proposal.id.as_str(), r.session))
        .collect();
    assert_eq!(ids, vec![("p-a1", a), ("p-a2", a)]);
    assert_eq!(pending[0].proposal.call["method"], "rollback");
    assert_eq!(pending[0].proposal.preview.len(), 2);
    assert_eq!(pending[1].seq, 2);
    // Ids are unique across sessions.
    let dup = store
        .append(b, &SessionEntry::Proposal(proposal("p-a1")))
        .unwrap_err();
    assert!(
        matches!(dup, SessionError::DuplicateProposal { .. }),
        "{dup}"
    );
    assert_eq!(
        store.load(b).unwrap().entries.len(),
        1,
        "the failed append left nothing"
    );
}

#[test]
fn list_and_last_follow_activity() {
    let (_dir, store) = store();
    assert_eq!(store.last().unwrap(), None);
    assert!(store.list(10).unwrap().is_empty());
    let a = store.create(Face::Dashboard, "offline", "router").unwrap();
    let b = store.create(Face::Cli, "offline", "router").unwrap();
    let c = store.create(Face::Cli, "offline", "router").unwrap();
    assert_eq!(store.last().unwrap(), Some(c));
    store
        .append(a, &SessionEntry::User { text: "hi".into() })
        .unwrap();
    assert_eq!(store.last().unwrap(), Some(a));
    let ids: Vec<SessionId> = store.list(10).unwrap().iter().map(|s| s.id).collect();
    assert_eq!(ids, vec![a, c, b]);
    let two: Vec<SessionId> = store.list(2).unwrap().iter().map(|s| s.id).collect();
    assert_eq!(two, vec![a, c]);
    store
        .append(b, &SessionEntry::Proposal(proposal("p-x")))
        .unwrap();
    store
        .set_proposal_status(
            &"p-x".parse().unwrap(),
            ProposalStatus::Rejected,
            None,
            None,
        )
        .unwrap();
    store
        .append(
            c,
            &SessionEntry::User {
                text: "later".into(),
            },
        )
        .unwrap();
    store
        .set_proposal_status(&"p-x".parse().unwrap(), ProposalStatus::Failed, None, None)
        .unwrap_err();
    assert_eq!(store.last().unwrap(), Some(c));
}

#[test]
fn unknown_sessions_are_named() {
    let (_dir, store) = store();
    let err = store.load(SessionId(42)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "there is no operator session 42; `naap chat --list` lists them"
    );
    assert!(matches!(
        store.append(SessionId(42), &SessionEntry::User { text: "x".into() }),
        Err(SessionError::NoSession { .. })
    ));
}

#[test]
fn two_handles_share_one_file() {
    let (dir, one) = store();
    let two = SessionStore::open(dir.path()).unwrap();
    let id = one.create(Face::Dashboard, "openai", "m").unwrap();
    two.append(
        id,
        &SessionEntry::User {
            text: "from chat".into(),
        },
    )
    .unwrap();
    one.append(
        id,
        &SessionEntry::Assistant {
            text: "from the pane".into(),
        },
    )
    .unwrap();
    assert_eq!(two.load(id).unwrap().entries.len(), 2);
    assert_eq!(one.last().unwrap(), Some(id));

    // Writers on threads, interleaving: every append lands, seqs stay dense and ordered.
    let path = one.path().to_path_buf();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || {
                let store = SessionStore::open_file(&path).unwrap();
                for i in 0..25 {
                    store
                        .append(
                            id,
                            &SessionEntry::User {
                                text: format!("{t}-{i}"),
                            },
                        )
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let session = one.load(id).unwrap();
    assert_eq!(session.entries.len(), 102);
    assert_eq!(session.summary.entries, 102);
    let seqs: Vec<u64> = session.entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=102).collect::<Vec<_>>());
    for t in 0..4 {
        let mine: Vec<String> = session
            .entries
            .iter()
            .filter_map(|e| match &e.entry {
                SessionEntry::User { text } if text.starts_with(&format!("{t}-")) => {
                    Some(text.clone())
                }
                _ => None,
            })
            .collect();
        let expected: Vec<String> = (0..25).map(|i| format!("{t}-{i}")).collect();
        assert_eq!(mine, expected, "thread {t}'s entries in its order");
    }
}

#[test]
fn one_handle_is_shared_between_threads() {
    let (_dir, store) = store();
    let store = std::sync::Arc::new(store);
    let id = store.create(Face::Dashboard, "openai", "m").unwrap();
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || {
                for _ in 0..10 {
                    store
                        .append(id, &SessionEntry::Assistant { text: "x".into() })
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(store.load(id).unwrap().entries.len(), 30);
}

#[test]
fn sessions_survive_reopening_and_the_file_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let id = {
        let store = SessionStore::open(&state).unwrap();
        let id = store.create(Face::Cli, "ollama", "llama3.2").unwrap();
        store
            .append(
                id,
                &SessionEntry::User {
                    text: "remember me".into(),
                },
            )
            .unwrap();
        store
            .append(id, &SessionEntry::Proposal(proposal("p-keep")))
            .unwrap();
        id
    };
    let path = state.join(SESSIONS_FILE);
    for file in [path.clone(), state.join("operator.db-wal")] {
        if let Ok(meta) = std::fs::metadata(&file) {
            assert_eq!(
                meta.permissions().mode() & 0o777,
                0o600,
                "{}",
                file.display()
            );
        }
    }
    assert_eq!(
        std::fs::metadata(&state).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let store = SessionStore::open(&state).unwrap();
    assert_eq!(store.last().unwrap(), Some(id));
    let session = store.load(id).unwrap();
    assert_eq!(session.entries.len(), 2);
    assert_eq!(store.pending_proposals().unwrap().len(), 1);
    // A wider file left by something else is narrowed on open.
    drop(store);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _store = SessionStore::open(&state).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn a_corrupt_file_is_named_with_a_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(SESSIONS_FILE);
    std::fs::write(&path, b"this is not a database, it is a text file that got here by mistake....................................................................").unwrap();
    let err = SessionStore::open(dir.path()).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, SessionError::Corrupt { .. }), "{err:?}");
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("move it aside"), "{text}");
}

#[test]
fn a_newer_file_is_refused_with_a_fix() {
    let dir = tempfile::tempdir().unwrap();
    drop(SessionStore::open(dir.path()).unwrap());
    let path = dir.path().join(SESSIONS_FILE);
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let err = SessionStore::open(dir.path()).unwrap_err();
    assert!(
        matches!(err, SessionError::TooNew { found: 99, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("schema version 99") && text.contains("newer naap"),
        "{text}"
    );
}

#[test]
fn another_programs_database_is_not_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(SESSIONS_FILE);
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (x)").unwrap();
    }
    let err = SessionStore::open(dir.path()).unwrap_err();
    assert!(matches!(err, SessionError::Foreign { .. }), "{err:?}");
    // And a directory where the file belongs.
    let other = tempfile::tempdir().unwrap();
    std::fs::create_dir(other.path().join(SESSIONS_FILE)).unwrap();
    let err = SessionStore::open(other.path()).unwrap_err();
    assert!(err.to_string().contains("directory"), "{err}");
}

#[test]
fn an_unreadable_entry_names_session_and_seq() {
    let (_dir, store) = store();
    let id = store.create(Face::Cli, "offline", "router").unwrap();
    store
        .append(id, &SessionEntry::User { text: "ok".into() })
        .unwrap();
    store
        .append(
            id,
            &SessionEntry::User {
                text: "broken".into(),
            },
        )
        .unwrap();
    {
        let conn = Connection::open(store.path()).unwrap();
        conn.execute(
            "UPDATE entries SET payload = '{\"kind\":\"mystery\"}' WHERE seq = 2",
            [],
        )
        .unwrap();
    }
    let err = store.load(id).unwrap_err();
    assert!(
        matches!(err, SessionError::BadEntry { seq: 2, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&format!("session {id}, entry 2")),
        "{err}"
    );
    {
        let conn = Connection::open(store.path()).unwrap();
        conn.execute("UPDATE entries SET version = 7 WHERE seq = 2", [])
            .unwrap();
    }
    let err = store.load(id).unwrap_err();
    assert!(err.to_string().contains("payload version 7"), "{err}");
    // The list still works: one bad entry does not hide the sessions.
    assert_eq!(store.list(5).unwrap().len(), 1);
}

#[test]
fn bad_input_is_refused_not_stored() {
    let (_dir, store) = store();
    let id = store.create(Face::Cli, "openai", "m").unwrap();
    for cost in [f64::NAN, -1.0, f64::INFINITY] {
        let err = store
            .append(
                id,
                &SessionEntry::Usage(TurnUsage {
                    input_tokens: 1,
                    output_tokens: 1,
                    cost_usd: Some(cost),
                }),
            )
            .unwrap_err();
        assert!(matches!(err, SessionError::Invalid { .. }), "{err}");
    }
    let err = store
        .append(
            id,
            &SessionEntry::Usage(TurnUsage {
                input_tokens: u64::MAX,
                output_tokens: 0,
                cost_usd: None,
            }),
        )
        .unwrap_err();
    assert!(matches!(err, SessionError::Invalid { .. }), "{err}");
    assert_eq!(store.load(id).unwrap().entries.len(), 0);
}

#[test]
fn ids_parse_and_generate() {
    let id = ProposalId::generate();
    assert!(
        id.as_str().starts_with("p-") && id.as_str().len() == 10,
        "{id}"
    );
    assert_eq!(id.as_str().parse::<ProposalId>().unwrap(), id);
    assert!("".parse::<ProposalId>().is_err());
    assert!("p 1".parse::<ProposalId>().is_err());
    assert_eq!("12".parse::<SessionId>().unwrap(), SessionId(12));
    assert!("0".parse::<SessionId>().is_err());
    assert!("x".parse::<SessionId>().is_err());
    let json = serde_json::to_string(&SessionEntry::Proposal(proposal("p-j"))).unwrap();
    assert!(json.contains(r#""kind":"proposal""#) && json.contains(r#""status":"waiting""#));
}

#[test]
fn of_two_faces_approving_at_once_exactly_one_wins() {
    let (dir, store) = store();
    let id = store.create(Face::Ai, "openai", "m").unwrap();
    for round in 0..10 {
        let pid = format!("p-race{round}");
        store
            .append(id, &SessionEntry::Proposal(proposal(&pid)))
            .unwrap();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let racers: Vec<_> = [Face::Dashboard, Face::Cli]
            .into_iter()
            .map(|face| {
                let path = dir.path().to_path_buf();
                let barrier = barrier.clone();
                let pid: ProposalId = pid.parse().unwrap();
                std::thread::spawn(move || {
                    let store = SessionStore::open(&path).unwrap();
                    barrier.wait();
                    let decision = Decision {
                        face,
                        by: String::new(),
                        confirmed: None,
                    };
                    store
                        .set_proposal_status(&pid, ProposalStatus::Approved, None, Some(&decision))
                        .is_ok()
                })
            })
            .collect();
        let wins = racers
            .into_iter()
            .map(|r| r.join().unwrap())
            .filter(|won| *won)
            .count();
        assert_eq!(wins, 1, "round {round}");
    }
    assert!(store.pending_proposals().unwrap().is_empty());
}
