/* unit tests of src/target/: the fields apply records for drift
 * (target_kube_fields.c) and the inventory that keeps them */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "../../src/target/target_kube.h"

static struct dnode *
json(struct arena *a, const char *s)
{
	struct dnode *d = NULL;
	cr_assert_eq(doc_parse_json(a, s, strlen(s), &d), 0, "%s", s);
	return d;
}

static const char sent[] =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
	"\"metadata\":{\"name\":\"web\",\"namespace\":\"a\",\"labels\":{\"x/y~z\":\"1\"}},"
	"\"spec\":{\"replicas\":1,\"strategy\":{},\"template\":{\"spec\":{\"containers\":["
	"{\"name\":\"web\",\"image\":\"nginx\",\"args\":[\"-a\",\"-b\"],"
	"\"resources\":{\"requests\":{\"cpu\":\"0.5\"}}}]}}}}";
/* as the server answers: normalised, defaulted, with status */
static const char answer[] =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
	"\"metadata\":{\"name\":\"web\",\"namespace\":\"a\",\"uid\":\"u\",\"labels\":{\"x/y~z\":\"1\"}},"
	"\"spec\":{\"replicas\":1,\"strategy\":{\"type\":\"RollingUpdate\"},\"template\":{\"spec\":"
	"{\"containers\":[{\"name\":\"web\",\"image\":\"nginx\",\"args\":[\"-a\",\"-b\"],"
	"\"imagePullPolicy\":\"Always\",\"resources\":{\"requests\":{\"cpu\":\"500m\"}}}]}}},"
	"\"status\":{\"replicas\":1}}";

Test(fields, the_applied_fields_are_the_leaves_of_what_was_sent)
{
	struct arena a = {0};
	struct iobj io = {0};
	tk_fields(&a, json(&a, sent), json(&a, answer), &io);
	const char *want[] = {"/metadata/labels/x~1y~0z", "/spec/replicas", "/spec/strategy",
			      "/spec/template/spec/containers/0/name",
			      "/spec/template/spec/containers/0/image",
			      "/spec/template/spec/containers/0/args",
			      "/spec/template/spec/containers/0/resources/requests/cpu"};
	cr_assert_eq(io.nf, sizeof(want) / sizeof(*want));
	for (size_t i = 0; i < io.nf; i++)
		cr_assert_str_eq(io.fptr[i], want[i]);
	/* compared with the answer, not with what was sent: 500m is no change,
	 * nor is a default filled into an empty map */
	struct dnode *live = json(&a, answer);
	for (size_t i = 0; i < io.nf; i++)
		cr_assert_eq(tk_field_hash(live, io.fptr[i], io.fhash[i]), io.fhash[i], "%s",
			     io.fptr[i]);
	arena_free(&a);
}

Test(fields, a_changed_or_removed_field_hashes_differently)
{
	struct arena a = {0};
	struct iobj io = {0};
	tk_fields(&a, json(&a, sent), json(&a, answer), &io);
	struct dnode *scaled = json(&a, "{\"spec\":{\"replicas\":3}}");
	cr_assert_neq(tk_field_hash(scaled, "/spec/replicas", io.fhash[1]), io.fhash[1]);
	cr_assert_eq(tk_field_hash(scaled, "/spec/nothing", 0), 0);
	cr_assert_eq(tk_field_hash(scaled, "/spec/replicas/deeper", 5), 0);
	arena_free(&a);
}

/* who holds a field, from managedFields: keyed list elements (k:) are
 * matched against the live element, addonmake's own apply is never named */
Test(fields, the_owner_is_read_from_managed_fields)
{
	struct arena a = {0};
	struct dnode *live = json(&a,
		"{\"metadata\":{\"managedFields\":["
		"{\"manager\":\"addonmake\",\"operation\":\"Apply\",\"fieldsV1\":{\"f:spec\":"
		"{\"f:replicas\":{},\"f:template\":{\"f:spec\":{\"f:containers\":{"
		"\"k:{\\\"name\\\":\\\"web\\\"}\":{\"f:image\":{}}}}}}}},"
		"{\"manager\":\"kubectl-edit\",\"operation\":\"Update\",\"fieldsV1\":{\"f:spec\":"
		"{\"f:template\":{\"f:spec\":{\"f:containers\":{"
		"\"k:{\\\"name\\\":\\\"side\\\"}\":{\"f:image\":{}}}}}}}},"
		"{\"manager\":\"hpa\",\"operation\":\"Update\",\"subresource\":\"scale\","
		"\"fieldsV1\":{\"f:spec\":{\"f:replicas\":{}}}}]},"
		"\"spec\":{\"replicas\":4,\"template\":{\"spec\":{\"containers\":["
		"{\"name\":\"web\",\"image\":\"a\"},{\"name\":\"side\",\"image\":\"b\"}]}}}}");
	cr_assert_str_eq(tk_field_owner(live, "/spec/replicas"), "hpa");
	cr_assert_str_eq(tk_field_owner(live, "/spec/template/spec/containers/1/image"),
			 "kubectl-edit");
	cr_assert_null(tk_field_owner(live, "/spec/template/spec/containers/0/image"));
	cr_assert_null(tk_field_owner(live, "/spec/gone"));
	arena_free(&a);
}

/* the inventory keeps the fields (version 3) and still reads version 2 */
Test(inventory, fields_round_trip_and_older_records_read)
{
	struct arena a = {0};
	const char *p[] = {"/data/k", "/data/x"};
	uint64_t h[] = {7, 0};
	struct iobj v = {.path = "/api/v1/namespaces/a/configmaps/c", .api = "v1",
			 .kind = "ConfigMap", .ns = "a", .name = "c", .uid = "u", .flags = 1,
			 .nf = 2, .fptr = p, .fhash = h};
	struct buf b = {0};
	tk_inv_put(&b, "", &v, 1);
	const char *rel;
	struct iobj *out;
	size_t n;
	cr_assert_eq(tk_inv_get(b.s, b.len, &a, &rel, &out, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(out[0].nf, 2);
	cr_assert_str_eq(out[0].fptr[1], "/data/x");
	cr_assert_eq(out[0].fhash[0], 7);
	/* cut short: not ours, nothing half read */
	cr_assert_eq(tk_inv_get(b.s, b.len - 3, &a, &rel, &out, &n), -1);
	/* version 2: the same without fields */
	const unsigned char v2[] = {2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 'p', 0, 0, 0, 2, 'v', '1',
				    0, 0, 0, 1, 'K', 0, 0, 0, 0, 0, 0, 0, 1, 'n', 0, 0, 0, 0, 0};
	cr_assert_eq(tk_inv_get((const char *)v2, sizeof(v2), &a, &rel, &out, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(out[0].name, "n");
	cr_assert_eq(out[0].nf, 0);
	buf_free(&b);
	arena_free(&a);
}

/* a deep object (a CRD's schema) is kept to at most 32 fields: its
 * subtrees below some depth are one field each, hashed whole, and its
 * metadata is never folded (the server rewrites resourceVersion there) */
Test(fields, a_deep_object_is_folded_to_a_few_fields)
{
	struct arena a = {0};
	struct buf b = {0};
	buf_adds(&b, "{\"apiVersion\":\"v1\",\"kind\":\"X\",\"metadata\":{\"name\":\"x\","
		     "\"labels\":{\"a\":\"1\",\"b\":\"2\"}},\"spec\":{\"schema\":{");
	for (int i = 0; i < 100; i++)
		buf_printf(&b, "%s\"p%d\":{\"type\":\"string\",\"x\":{\"y\":%d}}", i ? "," : "", i, i);
	buf_adds(&b, "}}}");
	struct dnode *d = json(&a, b.s);
	struct iobj io = {0};
	tk_fields(&a, d, d, &io);
	cr_assert_leq(io.nf, 32);
	int labels = 0, spec = 0;
	for (size_t i = 0; i < io.nf; i++) {
		labels += !strncmp(io.fptr[i], "/metadata/labels/", 17);
		spec += !strncmp(io.fptr[i], "/spec", 5);
	}
	cr_assert_eq(labels, 2, "the metadata is walked to its leaves");
	cr_assert_geq(spec, 1);
	/* a change deep in the schema changes the folded field's hash */
	struct dnode *live = json(&a, strstr(b.s, "\"y\":57") ? b.s : "");
	char *edited = strdup(b.s);
	memcpy(strstr(edited, "\"y\":57"), "\"y\":58", 6);
	struct dnode *changed = json(&a, edited);
	int differs = 0;
	for (size_t i = 0; i < io.nf; i++)
		differs |= tk_field_hash(changed, io.fptr[i], io.fhash[i]) != io.fhash[i];
	cr_assert(differs);
	for (size_t i = 0; i < io.nf; i++)
		cr_assert_eq(tk_field_hash(live, io.fptr[i], io.fhash[i]), io.fhash[i]);
	free(edited);
	buf_free(&b);
	arena_free(&a);
}

/* nothing derived from a Secret's value is recorded: its data keys (and
 * the keys of stringData, recorded where the server keeps them) are
 * recorded as there (drift compares the values with the manifest) */
Test(fields, a_secret_records_no_value)
{
	struct arena a = {0};
	struct dnode *ssent = json(&a, "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":"
				      "{\"name\":\"s\"},\"data\":{\"a\":\"eA==\"},\"stringData\":{\"b\":\"y\"}}");
	struct dnode *sans = json(&a, "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":"
				      "{\"name\":\"s\"},\"data\":{\"a\":\"eA==\",\"b\":\"eQ==\"}}");
	struct iobj io = {0};
	tk_fields(&a, ssent, sans, &io);
	cr_assert_eq(io.nf, 2);
	cr_assert_str_eq(io.fptr[0], "/data/a");
	cr_assert_str_eq(io.fptr[1], "/data/b");
	cr_assert_eq(io.fhash[0], TK_SECRET_HELD, "a value's hash was recorded");
	cr_assert_eq(io.fhash[1], TK_SECRET_HELD, "a value's hash was recorded");
	/* a key that is gone is a change; a value is not judged here */
	struct dnode *edited = json(&a, "{\"data\":{\"a\":\"eg==\"}}");
	cr_assert_eq(tk_field_hash(edited, "/data/a", io.fhash[0]), io.fhash[0]);
	cr_assert_neq(tk_field_hash(edited, "/data/b", io.fhash[1]), io.fhash[1]);
	arena_free(&a);
}
