/* yparse: the baseline for the cold-plan benchmark. Reads each file named
 * on the command line and runs libyaml's parser over it, event by event,
 * building nothing: the least any YAML-reading tool must do. With
 * --scalars first, the text of every block scalar (values: |, content: |)
 * is parsed too, as YAML of its own: the least a tool must do with a
 * Palette export whose values and manifests are inline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* parses n bytes at p, event by event; with scalars, each block scalar's
 * text as well. The number of events, or -1 (said) */
static long
parse(const char *name, const unsigned char *p, size_t n, int scalars)
{
	yaml_parser_t yp;
	yaml_event_t ev;
	long events = 0;
	yaml_parser_initialize(&yp);
	yaml_parser_set_input_string(&yp, p, n);
	for (int done = 0; !done;) {
		if (!yaml_parser_parse(&yp, &ev)) {
			fprintf(stderr, "%s: %s\n", name, yp.problem);
			yaml_parser_delete(&yp);
			return -1;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		events++;
		if (scalars && ev.type == YAML_SCALAR_EVENT &&
		    (ev.data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
		     ev.data.scalar.style == YAML_FOLDED_SCALAR_STYLE)) {
			long k = parse(name, ev.data.scalar.value, ev.data.scalar.length, 0);
			if (k < 0)
				done = 1, events = -1;
			else
				events += k;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&yp);
	return events;
}

int
main(int argc, char **argv)
{
	long events = 0;
	char *buf = NULL;
	size_t cap = 0;
	int scalars = argc > 1 && strcmp(argv[1], "--scalars") == 0;
	for (int i = 1 + scalars; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (!f) {
			perror(argv[i]);
			return 1;
		}
		size_t n = 0, r;
		for (;;) {
			if (cap - n < 65536) {
				cap = cap ? cap * 2 : 1 << 20;
				buf = realloc(buf, cap);
			}
			if ((r = fread(buf + n, 1, cap - n, f)) == 0)
				break;
			n += r;
		}
		fclose(f);
		long k = parse(argv[i], (unsigned char *)buf, n, scalars);
		if (k < 0)
			return 1;
		events += k;
	}
	printf("%ld events\n", events);
	free(buf);
	return 0;
}
