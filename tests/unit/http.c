/* unit tests of src/http/: header values and the Retry-After cap. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "../../src/http/http.h"

Test(http, a_header_value_is_found_in_any_case_and_trimmed)
{
	const char *line = "retry-after: \t 7 \r\n";
	char *v = http_header_value(line, strlen(line), "Retry-After");
	cr_assert_str_eq(v, "7");
	free(v);
	line = "ETag:\"abc\"\r\n";
	v = http_header_value(line, strlen(line), "ETag");
	cr_assert_str_eq(v, "\"abc\"");
	free(v);
	line = "ETag:\r\n";
	v = http_header_value(line, strlen(line), "ETag");
	cr_assert_str_eq(v, "");
	free(v);
	/* another header, or a longer name that starts the same */
	line = "ETags: x\r\n";
	cr_assert_null(http_header_value(line, strlen(line), "ETag"));
	line = "Content-Type: text/plain\r\n";
	cr_assert_null(http_header_value(line, strlen(line), "ETag"));
	cr_assert_null(http_header_value("ETag", 4, "ETag"));
}

Test(http, retry_after_is_honoured_up_to_the_cap)
{
	cr_assert_eq(http_retry_after_ms(0), 0);
	cr_assert_eq(http_retry_after_ms(-3), 0);
	cr_assert_eq(http_retry_after_ms(2), 2000);
	cr_assert_eq(http_retry_after_ms(HTTP_RETRY_AFTER_MAX_S), HTTP_RETRY_AFTER_MAX_S * 1000L);
	cr_assert_eq(http_retry_after_ms(3600), HTTP_RETRY_AFTER_MAX_S * 1000L);
}

Test(http, a_handle_says_who_it_is)
{
	CURL *h = http_handle();
	cr_assert_not_null(h);
	curl_easy_cleanup(h);
	cr_assert(strncmp(HTTP_USER_AGENT, "addonmake/", 10) == 0);
}
