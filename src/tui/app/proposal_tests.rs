//! The rollback card, against the dashboard's fixture status.
use crate::ai::proposal::Proposal;
use crate::core::engine::LastRollout;

#[test]
fn a_rollback_after_a_rollback_promises_no_flip_forward() {
    let mut report = crate::tui::app::tests::report();
    let shop = &mut report.plugins[0];
    // shop serves 1.0.0 on blue because 2.0.0 (warm on green) was rolled back.
    shop.last_rollout = Some(LastRollout {
        id: 3,
        version: "2.0.0".into(),
        from_version: Some("1.0.0".into()),
        outcome: "rolled_back".into(),
        automatic: true,
        reason: Some("error rate 30.0 % > 5.0 %".into()),
        rolled_back_to: Some("1.0.0".into()),
        at: crate::tui::app::tests::now(),
        summary: String::new(),
    });
    let confirm = Proposal::rollback(shop, false);
    assert_eq!(confirm.lines.len(), 1, "{:?}", confirm.lines);
    assert!(
        confirm.lines[0].starts_with("already rolled back to v1.0.0: nothing will change"),
        "{:?}",
        confirm.lines
    );
    // Without that history the same slots mean an instant flip to green.
    shop.last_rollout = None;
    let confirm = Proposal::rollback(shop, false);
    assert!(confirm.lines[0].contains("all traffic to green v2.0.0"));
}
