//! Node ids as JS `Map` keys (`SameValueZero`), and how the delta reads a node's id (for
//! the pairing by id in `pairing`).

use std::borrow::Cow;

use crate::error::{CoreError, Seg};
use crate::value::{Array, Object, Read, Source, is_dict, join_surrogate_pairs};

use super::pairing::{IdIndex, Ids};

/// A node id under JS `SameValueZero`: equal keys exactly when the ids are the same key of
/// a JS `Map`.
#[derive(PartialEq, Eq, Hash, Clone, Debug)]
pub(crate) enum IdKey<'s> {
    Undefined,
    Null,
    Bool(bool),
    /// The double's bits, with `-0` folded into `0` and every NaN into one.
    Number(u64),
    /// WTF-8 with surrogate pairs joined: one spelling per JS string.
    Str(Cow<'s, [u8]>),
    Identity(usize),
}

impl IdKey<'_> {
    /// The same key, owning its text (to outlive the schema it came from).
    pub(crate) fn into_owned(self) -> IdKey<'static> {
        match self {
            IdKey::Str(text) => IdKey::Str(Cow::Owned(text.into_owned())),
            IdKey::Undefined => IdKey::Undefined,
            IdKey::Null => IdKey::Null,
            IdKey::Bool(b) => IdKey::Bool(b),
            IdKey::Number(n) => IdKey::Number(n),
            IdKey::Identity(i) => IdKey::Identity(i),
        }
    }
}

fn number_key(value: f64) -> IdKey<'static> {
    if value.is_nan() {
        IdKey::Number(f64::NAN.to_bits())
    } else if value == 0.0 {
        IdKey::Number(0)
    } else {
        IdKey::Number(value.to_bits())
    }
}

/// The id key of `id` (`None`: no `id` property).
pub(crate) fn id_key<'s, S: Source<'s>>(id: Option<S>) -> Result<IdKey<'s>, CoreError> {
    let Some(id) = id else {
        return Ok(IdKey::Undefined);
    };
    Ok(match id.read()? {
        Read::Null => IdKey::Null,
        Read::Bool(b) => IdKey::Bool(b),
        Read::Int(i) => number_key(i as f64),
        Read::Float(f) => number_key(f),
        Read::Str(s) if !s.is_wtf8() => IdKey::Str(Cow::Borrowed(s.as_bytes())),
        Read::Str(s) => IdKey::Str(join_surrogate_pairs(s.as_bytes())),
        Read::Array(_) | Read::Object(_) => IdKey::Identity(id.identity()),
    })
}

/// The ids of a list of nodes (`list`, for errors), indexed for [`pair`](super::pairing::pair).
pub(crate) fn index_nodes<'s, S: Source<'s>>(
    nodes: S::Array,
    list: &'static str,
) -> Result<IdIndex<IdKey<'s>>, CoreError> {
    let mut index = IdIndex::with_capacity(nodes.len());
    let mut keys = NodeKeys::new();
    nodes.for_each(|i, node| {
        let id = keys.id(node)?;
        index.push(id_key(id).map_err(|e| at_node(e, list, i, Some("id")))?);
        Ok(())
    })?;
    Ok(index)
}

/// The ids of a schema's nodes as the walk in step reads them: `None` for a node that is
/// not a dict.
pub(crate) struct NodeIds<'s, S: Source<'s>> {
    pub(crate) nodes: S::Array,
    pub(crate) keys: NodeKeys<'s, S>,
}

impl<'s, S: Source<'s>> Ids<'s> for NodeIds<'s, S> {
    fn len(&self) -> usize {
        self.nodes.len()
    }

    fn id(&mut self, i: usize) -> Result<Option<IdKey<'s>>, CoreError> {
        match self.keys.node(self.nodes, i)? {
            Some((_, id)) => id_key(id).map(Some),
            None => Ok(None),
        }
    }
}

/// The node fields the delta reads by name: only the id (nodes are compared whole).
const NODE_KEYS: [&str; 1] = ["id"];
const ID: usize = 0;

/// The key objects one schema's nodes use for [`NODE_KEYS`], as nodes show them. Parsed
/// schemas share one key object per name: a lookup with the schema's own key object
/// finds the member by identity instead of by text.
pub(crate) struct NodeKeys<'s, S: Source<'s>>([Option<<S::Object as Object<'s, S>>::Key>; 1]);

impl<'s, S: Source<'s>> NodeKeys<'s, S> {
    pub(crate) fn new() -> Self {
        NodeKeys([None])
    }

    /// `node["id"]`.
    pub(crate) fn id(&mut self, node: S) -> Result<Option<S>, CoreError> {
        self.get(node, ID)
    }

    /// `node[NODE_KEYS[field]]`.
    fn get(&mut self, node: S, field: usize) -> Result<Option<S>, CoreError> {
        let name = NODE_KEYS[field];
        let Read::Object(object) = node.shape()? else {
            return node.get(name);
        };
        if let Some(key) = self.0[field] {
            return object.lookup(key);
        }
        let mut found = None;
        object.for_each_keyed(|key, _| {
            if found.is_none() && S::Object::key_plain(key) && S::Object::key_str(key)?.as_bytes() == name.as_bytes() {
                found = Some(key);
            }
            Ok(())
        })?;
        self.0[field] = found;
        node.get(name)
    }

    /// Node `i` of `nodes` and its id, if it is a dict.
    pub(super) fn node(&mut self, nodes: S::Array, i: usize) -> Result<Option<(S, Option<S>)>, CoreError> {
        let Some(node) = nodes.get(i)? else {
            return Ok(None);
        };
        if !is_dict(node)? {
            return Ok(None);
        }
        Ok(Some((node, self.get(node, ID)?)))
    }
}

pub(super) fn at_node(err: CoreError, list: &'static str, index: usize, field: Option<&str>) -> CoreError {
    let err = match field {
        Some(field) => err.within(Seg::Key(field.as_bytes().to_vec())),
        None => err,
    };
    err.within(Seg::Index(index)).within(Seg::Key(list.as_bytes().to_vec()))
}
