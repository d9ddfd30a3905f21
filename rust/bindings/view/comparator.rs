//! The delta's [`Comparator`] for Python views: JSON equality of two views through the
//! C API, faster than the generic walk for the exact builtin types that make up nearly
//! all of a schema (architecture.md, "The native boundary"). What it does not decide
//! itself (subclasses, Structs, tuples, non-finite numbers, surrogates) it hands back to
//! the generic comparison ([`Fallback`]). The soundness rules of `view` apply: only
//! C API calls that read the objects they are given, and no Python code runs.
#![allow(unsafe_code)]

use pyo3::ffi;
use pyo3::prelude::*;

use super::{PyObject, PyVal};
use crate::delta::{At, Comparator, Fallback, Stop};
use crate::error::{CoreError, MAX_DEPTH};
use crate::value::{Object, Source};

/// The comparator of Python views, which the bindings hand to the delta, the tracker and
/// the patch diff.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PyComparator;

impl<'s, 'py: 's> Comparator<'s, PyVal<'s, 'py>> for PyComparator {
    #[inline]
    fn scalar_equal(self, a: PyVal<'s, 'py>, b: PyVal<'s, 'py>) -> bool {
        a.scalar_equal(b)
    }

    #[inline]
    fn fast_equal<F: Fallback<'s, PyVal<'s, 'py>>>(
        self,
        a: PyVal<'s, 'py>,
        b: PyVal<'s, 'py>,
        depth: usize,
        fallback: &mut F,
    ) -> Result<Option<bool>, CoreError> {
        a.fast_equal(b, depth, fallback)
    }
}

impl<'s, 'py: 's> PyVal<'s, 'py> {
    /// [`Comparator::scalar_equal`] for the views.
    #[inline]
    fn scalar_equal(self, other: Self) -> bool {
        if self.ptr == other.ptr {
            return self.is_scalar();
        }
        let ty = self.type_ptr();
        if ty != other.type_ptr() {
            return false;
        }
        let equal = if ty == &raw mut ffi::PyUnicode_Type {
            self.strs_equal(other)
        } else if ty == &raw mut ffi::PyLong_Type {
            self.ints_equal(other)
        } else if ty == &raw mut ffi::PyFloat_Type {
            self.floats_equal(other)
        } else {
            None
        };
        equal == Some(true)
    }

    /// For two values of one exact builtin type: the pairs that make up nearly all of
    /// two schemas, compared without building a [`Read`](crate::value::Read) for either. `None` (nothing
    /// done) for anything else, and for what only the generic comparison knows (see the
    /// `*_equal` helpers).
    #[inline]
    fn fast_equal<F: Fallback<'s, Self>>(
        self,
        other: Self,
        depth: usize,
        with: &mut F,
    ) -> Result<Option<bool>, CoreError> {
        if self.ptr == other.ptr {
            // A shared leaf; a shared container still needs its contents scanned.
            return Ok(self.is_scalar().then_some(true));
        }
        let ty = self.type_ptr();
        if ty != other.type_ptr() {
            return Ok(None);
        }
        if ty == &raw mut ffi::PyDict_Type || ty == &raw mut ffi::PyList_Type {
            return self.containers_equal(other, depth, with).map(Some);
        }
        Ok(if ty == &raw mut ffi::PyUnicode_Type {
            self.strs_equal(other)
        } else if ty == &raw mut ffi::PyLong_Type {
            self.ints_equal(other)
        } else if ty == &raw mut ffi::PyFloat_Type {
            self.floats_equal(other)
        } else if ty == &raw mut ffi::PyBool_Type {
            Some(false) // two distinct bools: `true` and `false`
        } else {
            None
        })
    }

    /// JSON equality of two members of dicts or lists being compared: the commonest
    /// pairs (equal strs, numbers) in place, containers and the rest out of line.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn equal<F: Fallback<'s, Self>>(self, other: Self, depth: usize, with: &mut F) -> Result<bool, CoreError> {
        let ty = self.type_ptr();
        if self.ptr != other.ptr && ty == other.type_ptr() {
            let decided = if ty == &raw mut ffi::PyUnicode_Type {
                self.strs_equal(other)
            } else if ty == &raw mut ffi::PyDict_Type || ty == &raw mut ffi::PyList_Type {
                return self.containers_equal(other, depth, with);
            } else if ty == &raw mut ffi::PyLong_Type {
                self.ints_equal(other)
            } else if ty == &raw mut ffi::PyFloat_Type {
                self.floats_equal(other)
            } else {
                None
            };
            if let Some(equal) = decided {
                return Ok(equal);
            }
        }
        self.equal_otherwise(other, depth, with)
    }

    /// [`PyVal::equal`] for two dicts or two lists.
    #[inline(never)]
    fn containers_equal<F: Fallback<'s, Self>>(
        self,
        other: Self,
        depth: usize,
        with: &mut F,
    ) -> Result<bool, CoreError> {
        if depth > MAX_DEPTH {
            return Err(CoreError::too_deep());
        }
        if self.is_type(&raw mut ffi::PyDict_Type) {
            self.dicts_equal(other, depth, with)
        } else {
            self.lists_equal(other, depth, with)
        }
    }

    /// [`PyVal::equal`] for every other pair: [`PyVal::fast_equal`], else the generic
    /// comparison.
    #[inline(never)]
    fn equal_otherwise<F: Fallback<'s, Self>>(
        self,
        other: Self,
        depth: usize,
        with: &mut F,
    ) -> Result<bool, CoreError> {
        match self.fast_equal(other, depth, with)? {
            Some(equal) => Ok(equal),
            None => with.compare_generic(self, other, depth),
        }
    }

    /// Two exact strs: equal if their code points are; `None` otherwise, since two
    /// different code point sequences may still be equal UTF-16 (a surrogate pair held
    /// as two code points).
    #[inline]
    fn strs_equal(self, other: Self) -> Option<bool> {
        // SAFETY: two live exact strs; PyUnicode_Compare compares their data in C.
        let order = unsafe { ffi::PyUnicode_Compare(self.ptr.as_ptr(), other.ptr.as_ptr()) };
        if order == -1 {
            // -1 is also the error return (a legacy string that cannot be readied).
            drop(PyErr::take(self.ctx.py));
        }
        (order == 0).then_some(true)
    }

    /// Two exact ints, equal as doubles; `None` for one beyond `i64`, or -1 (the C
    /// API's error sentinel, which the generic comparison checks).
    #[inline]
    fn ints_equal(self, other: Self) -> Option<bool> {
        let value = |int: Self| {
            let mut overflow = 0;
            // SAFETY: a live exact int, read directly (no `__index__`).
            let value = unsafe { ffi::PyLong_AsLongLongAndOverflow(int.ptr.as_ptr(), &raw mut overflow) };
            (overflow == 0 && value != -1).then_some(value)
        };
        #[allow(clippy::float_cmp)] // JSON numbers compare as doubles
        Some(value(self)? as f64 == value(other)? as f64)
    }

    /// Two exact floats; `None` unless both are finite (a non-finite number is `null`,
    /// which the generic comparison knows).
    #[inline]
    fn floats_equal(self, other: Self) -> Option<bool> {
        // SAFETY: two live exact floats, read directly; cannot fail.
        let (x, y) = unsafe { (ffi::PyFloat_AsDouble(self.ptr.as_ptr()), ffi::PyFloat_AsDouble(other.ptr.as_ptr())) };
        #[allow(clippy::float_cmp)]
        (x.is_finite() && y.is_finite()).then_some(x == y)
    }

    /// JSON equality of two dicts (at `depth`), as `Comparer::compare_objects`: walked in
    /// step while their keys agree, by lookup after that, and every value scanned
    /// (unless the fallback [stops early](Fallback::stops_early)). The
    /// sizes, asked for once, spare a last `PyDict_Next` on each side; each value is
    /// prefetched as soon as it is known, so that its cache miss overlaps the other
    /// side's.
    fn dicts_equal<F: Fallback<'s, Self>>(self, other: Self, depth: usize, with: &mut F) -> Result<bool, CoreError> {
        let (mut x_pos, mut y_pos): (ffi::Py_ssize_t, ffi::Py_ssize_t) = (0, 0);
        // Both key tables load at once, instead of each on its first PyDict_Next.
        self.prefetch_table();
        other.prefetch_table();
        // SAFETY: two live exact dicts; PyDict_Size reads their counts.
        let (x_len, y_len) = unsafe { (ffi::PyDict_Size(self.ptr.as_ptr()), ffi::PyDict_Size(other.ptr.as_ptr())) };
        let (mut equal, mut in_step) = (true, true);
        let stops_early = with.stops_early();
        let mut matched = 0;
        // Where the walk in step last stood before a member: noted if it stops there.
        let mut before = (0, 0, 0);
        for done in 0..x_len {
            if in_step {
                before = (x_pos, y_pos, done);
            }
            let Some((key, value)) = self.dict_next(&mut x_pos) else {
                break;
            };
            value.prefetch();
            let mut found = None;
            if in_step {
                if let Some((other_key, other_value)) = other.dict_next(&mut y_pos) {
                    other_value.prefetch();
                    // A pair of keys met before needs no reading: the key objects
                    // themselves are not even loaded.
                    if with.keys_known(key, other_key) || {
                        key.check_key()?;
                        other_key.check_key()?;
                        with.key_eq(key, other_key)?
                    } {
                        found = Some(other_value);
                    }
                }
                in_step = found.is_some();
            }
            if !in_step {
                key.check_key()?;
                found = with.member(PyObject::Dict(other), key)?;
            }
            if let Some(found) = found {
                matched += 1;
                equal &= value.equal(found, depth + 1, with)?;
            } else {
                equal = false;
                if !stops_early {
                    with.scan(value, depth + 1)?;
                }
            }
            if !equal && stops_early {
                self.stopped_at(other, before, with);
                return Ok(false);
            }
        }
        if in_step && x_len == y_len {
            // Every key of `self` met its twin in place, and `other` has no more.
            return Ok(equal);
        }
        equal &= x_len == y_len;
        if !equal && stops_early {
            if in_step {
                // Every member of `self` met its twin: `other` has more.
                self.stopped_at(other, (x_pos, y_pos, x_len), with);
            }
            return Ok(false);
        }
        if matched < y_len {
            PyObject::Dict(other).for_each_keyed(|key, item| {
                if with.member(PyObject::Dict(self), key)?.is_none() {
                    with.scan(item, depth + 1)?;
                }
                Ok(())
            })?;
        }
        Ok(equal)
    }

    /// Note that a comparison of two dicts stopped after the members before `before`'s
    /// cursors (`before.2` of them), walked in step.
    #[cold]
    fn stopped_at<F: Fallback<'s, Self>>(
        self,
        other: Self,
        before: (ffi::Py_ssize_t, ffi::Py_ssize_t, ffi::Py_ssize_t),
        with: &mut F,
    ) {
        let (x, y, done) = before;
        with.stopped(Stop {
            pair: (self.identity(), other.identity()),
            at: At::Members { cursors: (x as usize, y as usize), done: done as usize },
        });
    }

    /// JSON equality of two lists (at `depth`), as `Comparer::compare_arrays`.
    fn lists_equal<F: Fallback<'s, Self>>(self, other: Self, depth: usize, with: &mut F) -> Result<bool, CoreError> {
        let item = |list: Self, i: ffi::Py_ssize_t| {
            // SAFETY: a live list; PyList_GetItem bounds-checks the index (NULL and
            // IndexError past the end) and returns a borrowed reference, alive while the
            // list holds it: no Python code runs during a walk to change the list.
            let item = unsafe { ffi::PyList_GetItem(list.ptr.as_ptr(), i) };
            if item.is_null() {
                return Err(CoreError::from(PyErr::fetch(list.ctx.py)));
            }
            Ok(list.child(item))
        };
        // SAFETY: two live exact lists; PyList_Size reads their lengths.
        let (x_len, y_len) = unsafe { (ffi::PyList_Size(self.ptr.as_ptr()), ffi::PyList_Size(other.ptr.as_ptr())) };
        let mut equal = x_len == y_len;
        let stops_early = with.stops_early();
        if !equal && stops_early {
            return Ok(false);
        }
        let common = x_len.min(y_len);
        for i in 0..common {
            equal &= item(self, i)?.equal(item(other, i)?, depth + 1, with)?;
            if !equal && stops_early {
                with.stopped(Stop { pair: (self.identity(), other.identity()), at: At::Item(i as usize) });
                return Ok(false);
            }
        }
        for (list, len) in [(self, x_len), (other, y_len)] {
            for i in common..len {
                with.scan(item(list, i)?, depth + 1)?;
            }
        }
        Ok(equal)
    }
}
