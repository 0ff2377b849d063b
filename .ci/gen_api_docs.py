#!/usr/bin/env python3
"""Renders the Markdown API reference (docs/api.md) of the protos from a FileDescriptorSet.

    buf build -o api.binpb --as-file-descriptor-set --exclude-imports
    python .ci/gen_api_docs.py api.binpb --output docs/api.md      # write
    python .ci/gen_api_docs.py api.binpb --check docs/api.md       # exit 1 (with a diff) if stale

The descriptor set must carry source info (buf build keeps it by default): every service, rpc,
message, field, enum and enum value is rendered with its comment, in declaration order.
Imported files (google/protobuf/*) are not rendered; references to them link to the
well-known types' reference. Output depends only on the descriptors, so it is stable.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import descriptor_pb2 as dpb

FDP = dpb.FieldDescriptorProto
WKT_URL = "https://protobuf.dev/reference/protobuf/google.protobuf/"
GENERATOR = ".ci/gen_api_docs.py"

# Field numbers of the descriptor messages, for SourceCodeInfo paths.
FILE_SYNTAX, FILE_MESSAGE, FILE_ENUM, FILE_SERVICE = 12, 4, 5, 6
MESSAGE_FIELD, MESSAGE_NESTED, MESSAGE_ENUM = 2, 3, 4
ENUM_VALUE, SERVICE_METHOD = 2, 2

SCALARS = {
    FDP.TYPE_DOUBLE: "double",
    FDP.TYPE_FLOAT: "float",
    FDP.TYPE_INT64: "int64",
    FDP.TYPE_UINT64: "uint64",
    FDP.TYPE_INT32: "int32",
    FDP.TYPE_FIXED64: "fixed64",
    FDP.TYPE_FIXED32: "fixed32",
    FDP.TYPE_BOOL: "bool",
    FDP.TYPE_STRING: "string",
    FDP.TYPE_BYTES: "bytes",
    FDP.TYPE_UINT32: "uint32",
    FDP.TYPE_SFIXED32: "sfixed32",
    FDP.TYPE_SFIXED64: "sfixed64",
    FDP.TYPE_SINT32: "sint32",
    FDP.TYPE_SINT64: "sint64",
}


@dataclass
class Comments:
    by_path: dict[tuple[int, ...], str]

    @classmethod
    def of(cls, file: dpb.FileDescriptorProto) -> Comments:
        by_path = {}
        for location in file.source_code_info.location:
            text = "\n".join(c for c in (location.leading_comments, location.trailing_comments) if c.strip())
            if text:
                by_path[tuple(location.path)] = text
        return cls(by_path)

    def block(self, path: tuple[int, ...]) -> str:
        """The comment as Markdown paragraphs (line breaks inside a paragraph joined)."""
        lines = [line.removeprefix(" ") for line in self.by_path.get(path, "").splitlines()]
        paragraphs, current = [], []
        for line in lines:
            if line.strip():
                current.append(line.strip())
            elif current:
                paragraphs.append(" ".join(current))
                current = []
        if current:
            paragraphs.append(" ".join(current))
        return "\n\n".join(paragraphs)

    def cell(self, path: tuple[int, ...]) -> str:
        """The comment on one line, for a table cell."""
        return self.block(path).replace("\n\n", "<br><br>").replace("|", "\\|")


def anchor(full_name: str) -> str:
    """The GitHub heading anchor of a heading that is `full_name`."""
    return re.sub(r"[^a-z0-9_-]", "", full_name.lower().replace(" ", "-"))


class Renderer:
    def __init__(self, files: list[dpb.FileDescriptorProto]):
        self.files = files
        # Fully qualified name (".pkg.Msg") -> heading text, for links.
        self.local: dict[str, str] = {}
        self.map_entries: dict[str, dpb.DescriptorProto] = {}
        for file in files:
            prefix = f".{file.package}" if file.package else ""
            for message in file.message_type:
                self._index_message(message, prefix, "")
            for enum in file.enum_type:
                self.local[f"{prefix}.{enum.name}"] = enum.name

    def _index_message(self, message: dpb.DescriptorProto, prefix: str, parent: str) -> None:
        title = f"{parent}{message.name}"
        full = f"{prefix}.{title}"
        if message.options.map_entry:
            self.map_entries[full] = message
            return
        self.local[full] = title
        for nested in message.nested_type:
            self._index_message(nested, prefix, f"{title}.")
        for enum in message.enum_type:
            self.local[f"{full}.{enum.name}"] = f"{title}.{enum.name}"

    def type_ref(self, field: dpb.FieldDescriptorProto) -> str:
        if field.type in SCALARS:
            return f"`{SCALARS[field.type]}`"
        name = field.type_name
        if name in self.map_entries:
            key, value = self.map_entries[name].field
            return f"map&lt;{self.type_ref(key)}, {self.type_ref(value)}&gt;"
        if name in self.local:
            return f"[`{self.local[name]}`](#{anchor(self.local[name])})"
        if name.startswith(".google.protobuf."):
            short = name[len(".google.protobuf.") :]
            return f"[`google.protobuf.{short}`]({WKT_URL}#{short.lower()})"
        return f"`{name.lstrip('.')}`"

    def label(self, message: dpb.DescriptorProto, field: dpb.FieldDescriptorProto) -> str:
        if field.type_name in self.map_entries:
            return "map"
        if field.label == FDP.LABEL_REPEATED:
            return "repeated"
        if field.proto3_optional:
            return "optional"
        if field.HasField("oneof_index"):
            return f"oneof `{message.oneof_decl[field.oneof_index].name}`"
        if field.label == FDP.LABEL_REQUIRED:
            return "required"
        return ""

    def render(self) -> str:
        out = [
            "# API reference",
            "",
            f"<!-- Generated by {GENERATOR} from proto/ (buf build); do not edit by hand. -->",
            "<!-- Regenerate: .ci/proto-check.sh --write-docs -->",
            "",
            "Generated from the protos under `proto/`. The proto3 JSON name of each field (used by",
            "grpcurl and other JSON transcoding) is given next to it.",
            "",
        ]
        for file in self.files:
            out += self.render_file(file)
        return "\n".join(out).rstrip() + "\n"

    def render_file(self, file: dpb.FileDescriptorProto) -> list[str]:
        comments = Comments.of(file)
        out = [f"## `{file.name}`", "", f"Package `{file.package}`.", ""]
        header = comments.block((FILE_SYNTAX,))
        if header:
            out += [header, ""]
        options = file.options
        languages = [
            ("Go", "go_package"),
            ("Java", "java_package"),
            ("C#", "csharp_namespace"),
            ("PHP", "php_namespace"),
            ("Ruby", "ruby_package"),
            ("Objective-C prefix", "objc_class_prefix"),
        ]
        set_options = [(lang, getattr(options, name)) for lang, name in languages if options.HasField(name)]
        if set_options:
            out += ["| Language | Package option |", "|---|---|"]
            out += [f"| {lang} | `{value}` |" for lang, value in set_options]
            out.append("")

        out += ["### Contents", ""]
        for service in file.service:
            out.append(f"- service [`{service.name}`](#{anchor(service.name)})")
        for title in self._titles(file.message_type, ""):
            out.append(f"- message [`{title}`](#{anchor(title)})")
        for enum in file.enum_type:
            out.append(f"- enum [`{enum.name}`](#{anchor(enum.name)})")
        out.append("")

        for i, service in enumerate(file.service):
            out += self.render_service(service, comments, (FILE_SERVICE, i))
        for i, message in enumerate(file.message_type):
            out += self.render_message(message, comments, (FILE_MESSAGE, i), "")
        for i, enum in enumerate(file.enum_type):
            out += self.render_enum(enum, comments, (FILE_ENUM, i), "")
        return out

    def _titles(self, messages, parent: str) -> list[str]:
        titles = []
        for message in messages:
            if message.options.map_entry:
                continue
            title = f"{parent}{message.name}"
            titles.append(title)
            titles += self._titles(message.nested_type, f"{title}.")
        return titles

    def render_service(self, service: dpb.ServiceDescriptorProto, comments: Comments, path) -> list[str]:
        out = [f"### {service.name}", ""]
        if service.options.deprecated:
            out += ["**Deprecated.**", ""]
        text = comments.block(path)
        if text:
            out += [text, ""]
        for i, method in enumerate(service.method):
            request = self.type_ref(dpb.FieldDescriptorProto(type=FDP.TYPE_MESSAGE, type_name=method.input_type))
            response = self.type_ref(dpb.FieldDescriptorProto(type=FDP.TYPE_MESSAGE, type_name=method.output_type))
            stream_in = "stream " if method.client_streaming else ""
            stream_out = "stream " if method.server_streaming else ""
            out += [
                f"#### {service.name}.{method.name}",
                "",
                f"`rpc {method.name}` ({stream_in}{request}) returns ({stream_out}{response})",
                "",
            ]
            if method.options.deprecated:
                out += ["**Deprecated.**", ""]
            text = comments.block(path + (SERVICE_METHOD, i))
            if text:
                out += [text, ""]
        return out

    def render_message(self, message: dpb.DescriptorProto, comments: Comments, path, parent: str) -> list[str]:
        if message.options.map_entry:
            return []
        title = f"{parent}{message.name}"
        out = [f"### {title}", ""]
        if message.options.deprecated:
            out += ["**Deprecated.**", ""]
        text = comments.block(path)
        if text:
            out += [text, ""]
        if message.field:
            out += ["| Field | No. | Type | Label | JSON | Description |", "|---|---|---|---|---|---|"]
            for i, field in enumerate(message.field):
                description = comments.cell(path + (MESSAGE_FIELD, i))
                if field.options.deprecated:
                    description = f"**Deprecated.** {description}".strip()
                out.append(
                    f"| `{field.name}` | {field.number} | {self.type_ref(field)} | {self.label(message, field)} "
                    f"| `{field.json_name}` | {description} |"
                )
            out.append("")
        else:
            out += ["No fields.", ""]
        reserved = [
            str(r.start) if r.end - r.start == 1 else f"{r.start} to {r.end - 1}" for r in message.reserved_range
        ]
        reserved += [f"`{name}`" for name in message.reserved_name]
        if reserved:
            out += [f"Reserved: {', '.join(reserved)}.", ""]
        for i, nested in enumerate(message.nested_type):
            out += self.render_message(nested, comments, path + (MESSAGE_NESTED, i), f"{title}.")
        for i, enum in enumerate(message.enum_type):
            out += self.render_enum(enum, comments, path + (MESSAGE_ENUM, i), f"{title}.")
        return out

    def render_enum(self, enum: dpb.EnumDescriptorProto, comments: Comments, path, parent: str) -> list[str]:
        title = f"{parent}{enum.name}"
        out = [f"### {title}", ""]
        if enum.options.deprecated:
            out += ["**Deprecated.**", ""]
        text = comments.block(path)
        if text:
            out += [text, ""]
        out += ["| Name | No. | Description |", "|---|---|---|"]
        for i, value in enumerate(enum.value):
            description = comments.cell(path + (ENUM_VALUE, i))
            if value.options.deprecated:
                description = f"**Deprecated.** {description}".strip()
            out.append(f"| `{value.name}` | {value.number} | {description} |")
        out.append("")
        reserved = [str(r.start) if r.end == r.start else f"{r.start} to {r.end}" for r in enum.reserved_range]
        reserved += [f"`{name}`" for name in enum.reserved_name]
        if reserved:
            out += [f"Reserved: {', '.join(reserved)}.", ""]
        return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("descriptor_set", type=Path, help="FileDescriptorSet with source info (buf build -o)")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--output", type=Path, help="write the Markdown here")
    target.add_argument("--check", type=Path, help="fail when this file differs from the rendering")
    args = parser.parse_args()

    descriptor_set = dpb.FileDescriptorSet()
    descriptor_set.ParseFromString(args.descriptor_set.read_bytes())
    files = sorted((f for f in descriptor_set.file if not f.name.startswith("google/protobuf/")), key=lambda f: f.name)
    if not files:
        print("error: the descriptor set has no files to document", file=sys.stderr)
        return 1
    if not any(f.source_code_info.location for f in files):
        print(
            "error: the descriptor set has no source info (comments); build it without --exclude-source-info",
            file=sys.stderr,
        )
        return 1
    markdown = Renderer(files).render()

    if args.output:
        args.output.write_text(markdown, encoding="utf-8")
        print(f"wrote {args.output}")
        return 0
    current = args.check.read_text(encoding="utf-8") if args.check.exists() else ""
    if current == markdown:
        print(f"{args.check} is up to date")
        return 0
    diff = difflib.unified_diff(
        current.splitlines(keepends=True),
        markdown.splitlines(keepends=True),
        fromfile=f"{args.check} (committed)",
        tofile=f"{args.check} (generated from proto/)",
    )
    sys.stdout.writelines(list(diff)[:200])
    print(f"\nerror: {args.check} is stale: regenerate it with .ci/proto-check.sh --write-docs", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
