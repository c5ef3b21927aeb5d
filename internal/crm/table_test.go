package crm_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/crm"
	"github.com/wedsync/vendorhub/internal/crm/dubsado"
	"github.com/wedsync/vendorhub/internal/crm/honeybook"
)

// TestTableRules: the one mapper's rules, read through each CRM's names — the same payload
// in HoneyBook's and Dubsado's words maps onto the same Record.
func TestTableRules(t *testing.T) {
	t.Parallel()
	loc := time.UTC
	for _, tc := range []struct {
		name       string
		hb, ds     string
		wantStatus string
		wantReason string
	}{
		{"inquiry", `{"trigger":"New Inquiry","project_id":"p1","project_name":"Ana & Ben","client_name":"Ana Lee","client_email":"ANA@x.io","project_date":"2027-06-12"}`,
			`{"trigger":"New Project as Lead","project_id":"p1","project_name":"Ana & Ben","client_first_name":"Ana","client_last_name":"Lee","client_email":"ana@x.io","start_date":"2027-06-12"}`,
			"inquiry", ""},
		{"booked", `{"trigger":"Project Booked","project_id":"p1","project_name":"Ana & Ben","client_name":"Ana Lee","client_email":"ana@x.io","project_date":"2027-06-12"}`,
			`{"trigger":"New Project as Job","project_id":"p1","project_name":"Ana & Ben","client_first_name":"Ana","client_last_name":"Lee","client_email":"ana@x.io","start_date":"2027-06-12"}`,
			"booked", ""},
		{"status changed", `{"trigger":"Project Stage Changed","project_id":"p1","stage":"Lost"}`,
			`{"trigger":"Project Status Updated","project_id":"p1","project_status":"Lost"}`, "declined", ""},
		{"payment", `{"trigger":"Payment Received","project_id":"p1","payment_id":"pay1","payment_amount":"$1,250.00","currency":"usd"}`,
			`{"trigger":"New Payment Received","project_id":"p1","payment_id":"pay1","payment_amount":"$1,250.00","currency":"usd"}`, "booked", ""},
		{"no project id", `{"trigger":"Project Booked"}`, `{"trigger":"New Project as Job"}`, "", "project_id is required"},
		{"payment without amount", `{"trigger":"Payment Received","project_id":"p1","payment_id":"pay1"}`,
			`{"trigger":"New Payment Received","project_id":"p1","payment_id":"pay1"}`, "", "payment_amount is missing or not an amount"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, herr := honeybook.Mapper{}.Map([]byte(tc.hb), loc)
			d, derr := dubsado.Mapper{}.Map([]byte(tc.ds), loc)
			if tc.wantReason != "" {
				for _, err := range []error{herr, derr} {
					var me *crm.MappingError
					require.True(t, errors.As(err, &me), "%v", err)
					require.Equal(t, tc.wantReason, me.Reason)
				}
				return
			}
			require.NoError(t, herr)
			require.NoError(t, derr)
			require.Equal(t, h, d, "one rule, two vocabularies")
			require.Equal(t, tc.wantStatus, h.WeddingStatus)
		})
	}
	// The names stay each CRM's own.
	_, err := dubsado.Mapper{}.Map([]byte(`{"trigger":"Project Status Updated","project_id":"p1"}`), loc)
	require.ErrorContains(t, err, "project_status is required")
	_, err = honeybook.Mapper{}.Map([]byte(`{"trigger":"Project Stage Changed","project_id":"p1"}`), loc)
	require.ErrorContains(t, err, "stage is required")
	_, err = dubsado.Mapper{}.Map([]byte(`{"trigger":"New Client","client_id":"c1"}`), loc)
	require.ErrorContains(t, err, "unknown trigger")
}
