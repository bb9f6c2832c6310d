// Fuzzes the chat-template engine: the input is a template source, parsed and rendered against a
// short conversation. A template may throw (syntax, unsupported feature, raise_exception); it must
// never crash.
import AlignTemplates
import FuzzSupport

let conversation: [ChatMessage] = [
    ChatMessage(role: "system", content: "You are helpful."),
    ChatMessage(role: "user", content: "Hi <b>there</b> {{ not a tag }}"),
    ChatMessage(role: "assistant", content: "Hello!"),
    ChatMessage(role: "user", content: "Count to 3."),
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzChatTemplate(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let source = String(decoding: inputBytes(start, count), as: UTF8.self)
    guard let template = try? ChatTemplate(source, defaultContext: ["bos_token": "<s>", "eos_token": "</s>"]) else { return 0 }
    _ = try? template.render(messages: conversation, addGenerationPrompt: true)
    _ = try? template.render(messages: Array(conversation.prefix(3)), addGenerationPrompt: false, continueFinalMessage: true)
    return 0
}
