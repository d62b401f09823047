package dev.einhyrningsins.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.einhyrningsins.json.Json;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WireCodecTest {

    static Request decode(String s) throws Exception {
        return WireCodec.decode(s.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void jsonAsHandWrittenWorkersSendIt() throws Exception {
        Request r = decode("{\"command\":\"worker:ack\",\"pid\":1234}\r");
        assertThat(r.command()).isEqualTo("worker:ack");
        assertThat(r.pid()).isEqualTo(1234);
        assertThat(r.hasId()).isFalse();
    }

    @Test
    void rubyYamlDumpUrlEscapedAsEinhornsClientSendsIt() throws Exception {
        // Einhorn::Client::Transport.serialize_message({"command" => "worker:ack", "pid" => 4242})
        Request r = decode("---%0Acommand: worker:ack%0Apid: 4242%0A");
        assertThat(r.command()).isEqualTo("worker:ack");
        assertThat(r.pid()).isEqualTo(4242);
        // einhornsh: {"id" => 3, "command" => "signal", "args" => ["HUP", "50%"], "user" => "me"}
        r = decode("---%0Aid: 3%0Acommand: signal%0Aargs:%0A- HUP%0A- 50%25%0Auser: me%0A");
        assertThat(r.id()).isEqualTo(3);
        assertThat(r.args()).isEqualTo(List.of("HUP", "50%"));
        assertThat(r.user()).isEqualTo("me");
    }

    @Test
    void goEinhornsYamlWithRequestId() throws Exception {
        // yaml.Marshal(ClientRequest{RequestId: 7, Command: "upgrade"}), escaped
        Request r = decode("request_id: 7%0Acommand: upgrade%0A");
        assertThat(r.id()).isEqualTo(7);
        assertThat(r.command()).isEqualTo("upgrade");
        r = decode("command: worker:ack%0Apid: 99%0A");
        assertThat(r.pid()).isEqualTo(99);
        assertThat(decode("{\"command\":\"worker:ack\",\"pid\":\"77\"}").pid()).isEqualTo("77");
    }

    @Test
    void garbageIsAParseError() {
        for (String bad : List.of("", "   ", "hello there", "[1, 2]", "{\"command\": ", "--- !ruby/object:Foo%0Abar: 1%0A",
                "42", "%")) {
            assertThatThrownBy(() -> decode(bad)).as(bad).isInstanceOf(WireCodec.ParseException.class);
        }
        byte[] notUtf8 = {(byte) 0xff, (byte) 0xfe, '{', (byte) 0xc3, '\n'};
        assertThatThrownBy(() -> WireCodec.decode(notUtf8)).isInstanceOf(WireCodec.ParseException.class);
    }

    @Test
    void onlyTextThatCanBeAMappingGoesToTheYamlParser() throws Exception {
        for (String mapping : List.of("a: b", "a:", "---\na: 1\n", "x\n  a:\tb", "{a}", "  {a, b}", "--- {a}", "? a\n",
                "[1]\n{a: b}", "key: {a}")) {
            assertThat(WireCodec.mayBeMapping(mapping)).as(mapping).isTrue();
        }
        for (String notMapping : List.of("", "hello there", "key:value", "a:b:c", "x{a}", "- a\n- b", "[1, {a}]",
                "12:30", "http://example.com", "x?y")) {
            assertThat(WireCodec.mayBeMapping(notMapping)).as(notMapping).isFalse();
            assertThat(yamlMapping(notMapping)).as("the YAML parser agrees: %s", notMapping).isFalse();
        }
        // what the YAML parser makes of the mappings: the request's fields, or no command
        assertThat(decode("{command: ehlo, id: 3}").command()).isEqualTo("ehlo");
        assertThat(decode("? a").command()).isNull();
    }

    static boolean yamlMapping(String text) {
        try {
            return Json.readYaml(text) instanceof Map;
        } catch (java.io.IOException e) {
            return false;
        }
    }

    @Test
    void repliesAreJsonEscapedLikeEinhorn() throws Exception {
        assertThat(WireCodec.encodeReply("100% done", 7, false, true))
                .isEqualTo("{\"message\":\"100%25 done\",\"request_id\":7,\"wait\":true}\n");
        assertThat(WireCodec.encodeReply("a\nb", "x", true, false))
                .isEqualTo("{\"message\":\"a\\nb\",\"request_id\":\"x\",\"ok\":false}\n");
        assertThat(WireCodec.encodeReply("old style", null, false, true)).isEqualTo("{\"message\":\"old style\"}\n");
        Reply r = WireCodec.decodeReply(WireCodec.encodeReply("50% a\nb", 1, false, true).strip());
        assertThat(r.message()).isEqualTo("50% a\nb");
        assertThat(r.more()).isTrue();
        assertThat(r.ok()).isTrue();
    }

    @Test
    void einhornsOwnYamlRepliesDecode() throws Exception {
        Reply r = WireCodec.decodeReply("---%0Amessage: |%0A  Welcome!%0A  Line 2%0Arequest_id: 1%0Await: true%0A");
        assertThat(r.message()).isEqualTo("Welcome!\nLine 2\n");
        assertThat(r.more()).isTrue();
    }

    @Test
    void requestsWeSendDecodeBack() throws Exception {
        String line = WireCodec.encodeRequest("signal", List.of("HUP", "a%b"), 2, "me");
        Request r = WireCodec.decode(line.strip().getBytes(StandardCharsets.UTF_8));
        assertThat(r.args()).isEqualTo(List.of("HUP", "a%b"));
        assertThat(r.id()).isEqualTo(2);
    }

    @Test
    void everyPercentEscapeDecodesAndWhatIsNoEscapeStaysAsItIs() {
        assertThat(WireCodec.percentDecode("no escapes")).isEqualTo("no escapes");
        assertThat(WireCodec.percentDecode("%41%5a%7A%30%39%0a%0A%25")).isEqualTo("AZz09\n\n%");
        assertThat(WireCodec.percentDecode("%c3%A9t%C3%a9")).as("UTF-8 bytes").isEqualTo("\u00e9t\u00e9");
        assertThat(WireCodec.percentDecode("100%")).isEqualTo("100%");
        assertThat(WireCodec.percentDecode("%4")).isEqualTo("%4");
        assertThat(WireCodec.percentDecode("a%4g%g4%:0%/0%@0%`0%G0")).isEqualTo("a%4g%g4%:0%/0%@0%`0%G0");
        assertThat(WireCodec.percentDecode("%%41")).isEqualTo("%A");
        assertThat(WireCodec.percentDecode("%4F%6f%46%66")).isEqualTo("OoFf");
    }

    @Test
    void aReplysWaitAndOkAreReadAsTheTreeModelReadsBooleans() throws Exception {
        for (Object yes : List.of("true", "\"true\"", "\" true \"", "1", "-3", "\"yes\"")) {
            Reply r = WireCodec.decodeReply("{\"message\":\"m\",\"wait\":" + yes + ",\"ok\":" + yes + "}");
            assertThat(r.more()).as("wait: %s", yes).isEqualTo(!yes.equals("\"yes\""));
            assertThat(r.ok()).as("ok: %s", yes).isTrue();
        }
        for (Object no : List.of("false", "\"false\"", "0", "null", "[true]", "1.5")) {
            Reply r = WireCodec.decodeReply("{\"message\":\"m\",\"wait\":" + no + ",\"ok\":" + no + "}");
            assertThat(r.more()).as("wait: %s", no).isFalse();
            assertThat(r.ok()).as("ok: %s", no).isEqualTo(no.equals("null") || no.equals("[true]") || no.equals("1.5"));
        }
        assertThat(WireCodec.decodeReply("{\"message\":\"m\"}")).extracting(Reply::more, Reply::ok).containsExactly(false, true);
    }

    @Test
    void aReplyLineMayEndWithACarriageReturnAndItsMessageMayBeMissing() throws Exception {
        Reply r = WireCodec.decodeReply("{\"message\":\"hi\",\"request_id\":4}\r");
        assertThat(r.message()).isEqualTo("hi");
        assertThat(r.requestId()).isEqualTo(4);
        assertThat(r.line()).isEqualTo("{\"message\":\"hi\",\"request_id\":4}");
        assertThat(WireCodec.decodeReply("  {\"request_id\":4}").message()).isEmpty();
        assertThat(WireCodec.decodeReply("message: {a: 1}").message()).as("not a scalar").isEmpty();
        assertThatThrownBy(() -> WireCodec.decodeReply("[1]")).isInstanceOf(WireCodec.ParseException.class);
        assertThatThrownBy(() -> WireCodec.decodeReply("{\"message\":")).isInstanceOf(WireCodec.ParseException.class);
    }

    @Test
    void aRequestNamesItsUserOnlyWhenThereIsOne() {
        assertThat(WireCodec.encodeRequest("ehlo", null, null, null)).isEqualTo("{\"command\":\"ehlo\"}\n");
        assertThat(WireCodec.encodeRequest("ehlo", List.of(), 1, "me"))
                .isEqualTo("{\"command\":\"ehlo\",\"id\":1,\"args\":[],\"user\":\"me\"}\n");
    }

    @Test
    void whatCanBeAMappingAtTheEdgesOfTheText() {
        for (String mapping : List.of(":", "a:\n", "a: ", "x\n{", "x\n\t ?", "---{a}", "--- \t{a}", "x:y\nz:", "\t{a}", "\n{a}")) {
            assertThat(WireCodec.mayBeMapping(mapping)).as(mapping).isTrue();
        }
        for (String notMapping : List.of("a", "a:b", "x\n", "x\n--- ", "---", "x\n\t", "- {a}", "---x{a}")) {
            assertThat(WireCodec.mayBeMapping(notMapping)).as(notMapping).isFalse();
        }
    }
}
