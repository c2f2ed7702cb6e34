//! The simulated provider's tool calls: which tool it calls and with what arguments.
//!
//! Arguments are the schema's `required` properties filled with fixed example values, so a
//! client's argument parsing is exercised with input that validates against its own schema.

use bulkhead_core::{
    ChatRequest, Error, FunctionDefinition, ToolChoice, ToolChoice::Named, ToolChoiceMode,
};
use serde_json::{Map, Value};

use super::rng::hash_bytes;

/// How deep nested object schemas are followed.
const MAX_DEPTH: usize = 8;

/// The tool call the simulated model makes.
#[derive(Debug, Clone)]
pub(super) struct ToolAnswer {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) arguments: String,
}

/// The call to make, if the request offers function tools and `tool_choice` is not `"none"`:
/// the function named by `tool_choice`, else the first one.
pub(super) fn choose(request: &ChatRequest, provider: &str) -> Result<Option<ToolAnswer>, Error> {
    let mut functions = request
        .tools
        .iter()
        .flatten()
        .filter_map(|tool| tool.function.as_ref());
    let function = match &request.tool_choice {
        Some(ToolChoice::Mode(ToolChoiceMode::None)) => return Ok(None),
        Some(Named(named)) => {
            let wanted = &named.function.name;
            match functions.find(|f| &f.name == wanted) {
                Some(function) => function,
                None => {
                    return Err(Error::bad_request(format!(
                        "provider `{provider}`: tool_choice names `{wanted}`, which is not among the tools"
                    ))
                    .with_status(400));
                }
            }
        }
        _ => match functions.next() {
            Some(function) => function,
            None => return Ok(None),
        },
    };
    Ok(Some(call(function)))
}

fn call(function: &FunctionDefinition) -> ToolAnswer {
    let arguments = match &function.parameters {
        Some(schema) => example_object(schema, 0),
        None => Value::Object(Map::new()),
    };
    let arguments = arguments.to_string();
    let hash = hash_bytes(format!("{}\0{arguments}", function.name).as_bytes());
    ToolAnswer {
        id: format!("call_sim_{hash:016x}"),
        name: function.name.clone(),
        arguments,
    }
}

/// An object with every `required` property of `schema` set to an example value.
fn example_object(schema: &Value, depth: usize) -> Value {
    let mut object = Map::new();
    let properties = schema.get("properties");
    let required = schema.get("required").and_then(Value::as_array);
    for name in required.into_iter().flatten().filter_map(Value::as_str) {
        let property = properties.and_then(|p| p.get(name)).unwrap_or(&Value::Null);
        object.insert(name.to_owned(), example_value(property, depth + 1));
    }
    Value::Object(object)
}

/// An example value of `schema`: its first `enum` value or its `const`, else by type: string
/// "example", number and integer 1, boolean true, an array of one example item, an object of its
/// required properties, null.
fn example_value(schema: &Value, depth: usize) -> Value {
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    if let Some(value) = schema.get("const") {
        return value.clone();
    }
    let kind = match schema.get("type") {
        Some(Value::String(kind)) => Some(kind.as_str()),
        // `["string", "null"]`: the first type that is not null.
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|k| *k != "null"),
        _ if schema.get("properties").is_some() => Some("object"),
        _ => None,
    };
    match kind {
        Some("string") | None => Value::from("example"),
        Some("number") | Some("integer") => Value::from(1),
        Some("boolean") => Value::Bool(true),
        Some("array") if depth < MAX_DEPTH => match schema.get("items") {
            Some(items) => Value::Array(vec![example_value(items, depth + 1)]),
            None => Value::Array(Vec::new()),
        },
        Some("object") if depth < MAX_DEPTH => example_object(schema, depth),
        Some("array") => Value::Array(Vec::new()),
        Some("object") => Value::Object(Map::new()),
        Some(_) => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn required_properties_get_example_values_of_their_type() {
        let schema = json!({
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer"},
                "precise": {"type": ["boolean", "null"]},
                "tags": {"type": "array", "items": {"type": "string"}},
                "where": {"type": "object", "properties": {"lat": {"type": "number"}}, "required": ["lat"]},
                "optional": {"type": "string"}
            },
            "required": ["city", "unit", "days", "precise", "tags", "where"]
        });
        assert_eq!(
            example_object(&schema, 0),
            json!({"city": "example", "unit": "celsius", "days": 1, "precise": true,
                   "tags": ["example"], "where": {"lat": 1}})
        );
    }
}
