package policy

// TierLimit reads Meta's messaging-limit names (a number's whatsapp_business_manager_messaging_limit,
// a webhook's messaging limit): the unique recipients a portfolio may reach per moving 24 h, nil
// for unlimited; ok is false for a name Dripcast does not know.
func TierLimit(name string) (limit *int32, ok bool) {
	n := map[string]int32{"TIER_250": 250, "TIER_2K": 2000, "TIER_10K": 10000, "TIER_100K": 100000}
	if v, ok := n[name]; ok {
		return &v, true
	}
	return nil, name == "TIER_UNLIMITED"
}
