//! When a CRM's word stops a lead: the stage the CRM reports for the lead's record (HubSpot's
//! lifecycle stage, a deal's stage or status) is one config.toml names under `stop_stages` or
//! `stop_deal_stages`. What the stop does is [`super::Signal::CrmStage`]'s decision.

/// The first of the record's own stage (`own`) and its deals' stages (`deals`) that the
/// config's lists name, compared without regard to case and surrounding blanks.
pub fn crm_stop_stage<'a>(
    own: Option<&'a str>,
    deals: &'a [String],
    stop_stages: &[String],
    stop_deal_stages: &[String],
) -> Option<&'a str> {
    let named = |list: &[String], s: &str| {
        let s = s.trim();
        list.iter().any(|l| l.trim().eq_ignore_ascii_case(s))
    };
    if let Some(own) = own
        && named(stop_stages, own)
    {
        return Some(own);
    }
    // A deal's stage counts under either list: Pipedrive has no contact stage, and its
    // `stop_stages` name deal stages and statuses.
    deals
        .iter()
        .map(String::as_str)
        .find(|d| named(stop_deal_stages, d) || (own.is_none() && named(stop_stages, d)))
}

#[cfg(test)]
mod tests {
    use super::crm_stop_stage;

    #[test]
    fn a_named_stage_stops_and_others_do_not() {
        let stop = vec!["customer".to_string(), "salesqualifiedlead".to_string()];
        let deal_stop = vec!["closedwon".to_string()];
        assert_eq!(
            crm_stop_stage(Some("Customer"), &[], &stop, &[]),
            Some("Customer")
        );
        assert_eq!(crm_stop_stage(Some("lead"), &[], &stop, &[]), None);
        let deals = vec!["appointmentscheduled".to_string(), "closedwon".to_string()];
        assert_eq!(
            crm_stop_stage(Some("lead"), &deals, &stop, &deal_stop),
            Some("closedwon")
        );
        assert_eq!(crm_stop_stage(Some("lead"), &deals, &stop, &[]), None);
        // Pipedrive: no stage of its own; deal statuses and stage names under stop_stages.
        let pd = vec!["won".to_string()];
        let deals = vec!["open".to_string(), "won".to_string()];
        assert_eq!(crm_stop_stage(None, &deals, &pd, &[]), Some("won"));
    }
}
