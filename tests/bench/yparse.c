/* yparse: the baseline for the cold-plan benchmark. Reads each file named
 * on the command line and runs libyaml's parser over it, event by event,
 * building nothing: the least any YAML-reading tool must do. */
#include <stdio.h>
#include <stdlib.h>
#include <yaml.h>

int
main(int argc, char **argv)
{
	size_t events = 0;
	char *buf = NULL;
	size_t cap = 0;
	for (int i = 1; i < argc; i++) {
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
		yaml_parser_t p;
		yaml_event_t ev;
		yaml_parser_initialize(&p);
		yaml_parser_set_input_string(&p, (unsigned char *)buf, n);
		for (int done = 0; !done;) {
			if (!yaml_parser_parse(&p, &ev)) {
				fprintf(stderr, "%s: %s\n", argv[i], p.problem);
				return 1;
			}
			done = ev.type == YAML_STREAM_END_EVENT;
			events++;
			yaml_event_delete(&ev);
		}
		yaml_parser_delete(&p);
	}
	printf("%zu events\n", events);
	free(buf);
	return 0;
}
