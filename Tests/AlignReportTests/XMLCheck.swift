import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Parses `text` with Foundation's XML parser (libxml2 on Linux, via FoundationXML) and returns
/// the error description, or nil when the document is well-formed. Also counts elements by name
/// so tests can check what was drawn.
final class XMLCheck: NSObject, XMLParserDelegate {
    private(set) var elementCounts: [String: Int] = [:]
    private(set) var texts: [String] = []
    private var currentText = ""

    /// Parses `document`; returns nil when well-formed, else the parser's error.
    static func check(_ document: String) -> (error: String?, elements: [String: Int], texts: [String]) {
        let delegate = XMLCheck()
        let parser = XMLParser(data: Data(document.utf8))
        parser.delegate = delegate
        let ok = parser.parse()
        let error = ok ? nil : (parser.parserError.map { "\($0)" } ?? "unknown XML error")
            + " at line \(parser.lineNumber), column \(parser.columnNumber)"
        return (error, delegate.elementCounts, delegate.texts)
    }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        elementCounts[elementName, default: 0] += 1
        currentText = ""
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        currentText += string
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?) {
        if elementName == "text" { texts.append(currentText) }
        currentText = ""
    }
}
