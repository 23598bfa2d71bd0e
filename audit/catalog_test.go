package audit

import (
	"github.com/peregrine-sec/peregrine/policies/fields"
	"testing"
)

func TestAllFieldsExtracted(t *testing.T) {
	for _, f := range fields.K8sAudit().Fields() {
		if len(f.Name) > 4 && (f.Name[:3] == "ka." || f.Name[:5] == "jevt." || f.Name[:5] == "json.") && !Extracted(f.Name) {
			t.Errorf("%s not extracted", f.Name)
		}
	}
}
