// Package account changes what applies to an account as a whole, from the API and the console
// alike: the addresses it accepts calls and sign-ins from, and its sending policy.
package account

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/iprange"
	"github.com/dripcast/dripcast/policy"
	"github.com/dripcast/dripcast/queries"
)

// MaxAllowedIPs bounds the list an account keeps.
const MaxAllowedIPs = 100

// Allowed accepts every address when the list is empty, else those in it.
func Allowed(list []netip.Prefix, ip netip.Addr) bool {
	return len(list) == 0 || iprange.Contains(list, ip)
}

// AllowedIPsView is the list as people read and write it: addresses and CIDR ranges.
type AllowedIPsView struct {
	AllowedIPs []string `json:"allowed_ips"`
}

// ViewAllowedIPs shows a single address without its /32 or /128.
func ViewAllowedIPs(list []netip.Prefix) AllowedIPsView {
	out := AllowedIPsView{AllowedIPs: []string{}}
	for _, p := range list {
		if p.IsSingleIP() {
			out.AllowedIPs = append(out.AllowedIPs, p.Addr().String())
		} else {
			out.AllowedIPs = append(out.AllowedIPs, p.String())
		}
	}
	return out
}

// SetAllowedIPs replaces the addresses by's account accepts (empty: any). A list that would shut
// out by's own address is refused: nobody could change it back from there.
func SetAllowedIPs(ctx context.Context, db *pgxpool.Pool, by audit.Actor, entries []string) (AllowedIPsView, error) {
	if len(entries) > MaxAllowedIPs {
		return AllowedIPsView{}, invalid.Field("allowed_ips", "at most %d entries", MaxAllowedIPs)
	}
	list := make([]netip.Prefix, 0, len(entries))
	for i, v := range entries {
		p, err := iprange.Parse(v)
		if err != nil {
			return AllowedIPsView{}, invalid.Field(fmt.Sprintf("allowed_ips[%d]", i), "%q is not an address or a CIDR range", v)
		}
		list = append(list, p)
	}
	if !Allowed(list, by.IP) {
		return AllowedIPsView{}, invalid.Conflict("the list does not include your own address (%s); add it, or you would lock yourself out", by.IP)
	}
	var after AllowedIPsView
	err := audit.Change(ctx, db, by, "account.allowed_ips", "account", func(q *queries.Queries) (int64, any, any, error) {
		before, err := q.GetAccount(ctx, by.AccountID)
		if err != nil {
			return 0, nil, nil, err
		}
		saved, err := q.SetAllowedIPs(ctx, queries.SetAllowedIPsParams{AllowedIps: list, ID: by.AccountID})
		after = ViewAllowedIPs(saved)
		return by.AccountID, ViewAllowedIPs(before.AllowedIps), after, err
	})
	return after, err
}

// Settings are the account's sending policy (the defaults where it sets none).
func Settings(ctx context.Context, q *queries.Queries, id int64) (policy.Settings, error) {
	a, err := q.GetAccount(ctx, id)
	if err != nil {
		return policy.Settings{}, err
	}
	return policy.ParseSettings(a.Settings)
}

// SaveSettings replaces by's account's sending policy.
func SaveSettings(ctx context.Context, db *pgxpool.Pool, by audit.Actor, s policy.Settings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	raw, _ := json.Marshal(s)
	return audit.Change(ctx, db, by, "account.settings", "account", func(q *queries.Queries) (int64, any, any, error) {
		before, err := q.GetAccount(ctx, by.AccountID)
		if err != nil {
			return 0, nil, nil, err
		}
		_, err = q.UpdateAccountSettings(ctx, queries.UpdateAccountSettingsParams{Settings: raw, ID: by.AccountID})
		return by.AccountID, before.Settings, s, err
	})
}
